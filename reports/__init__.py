"""Reports out: the monthly visit report by area, organisation or volunteer, and its CSV and Excel files."""
