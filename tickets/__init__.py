"""Complaint tickets: numbers, receipts, SLA clocks, status changes and escalation."""
