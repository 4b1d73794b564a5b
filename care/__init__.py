"""The domain: elders, volunteers, visits, problems, the visit-rate definition, the clock and the ports.

It knows no aiogram, twilio or apscheduler; adapters implement its ports.
"""
