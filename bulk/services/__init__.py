"""Writes and domain steps of the bulk app: `uploads` (stage and submit a spreadsheet)."""
