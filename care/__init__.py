"""The shared domain: areas, people, visits and their confirmation, referrals, invitations, who may see what, the
visit-rate definition, the clock and the ports.

It knows no framework or vendor and does no I/O but the database; adapters implement its ports.
"""
