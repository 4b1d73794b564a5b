"""Survey rosters in (摸底排查): CSV (UTF-8, UTF-8 with BOM, GB18030) and XLSX files of elders and volunteers,
validated row by row and written all-or-nothing.

Reading and validation are pure and stream; `roster.importer` owns the database work.
"""
