"""Spreadsheets in, and the whole file back (DESIGN.md, invariant 10). Pure Python, no Django.

Each module imports only those above it:

- `cells`: typed cells (numbers, dates, text), to JSON and back, as text; column letters;
  text without control characters; which text a spreadsheet runs as a formula.
- `bounds`: the grid each format's sheet would take, measured before it is built;
  `UploadRejected`.
- `reading`: a file's format and its sheets' rows, within the size and grid bounds, every
  text cell and sheet name cleaned of control characters.
- `mapping`: `ColumnMap`, header aliases, layout signatures, guessing columns from cells.
- `layout`: which sheet, which header row and which columns a file's addresses are in.
- `validation`: one row's address checked and put in USPS form.
- `upload`: `parse_upload`, every row sorted into valid, invalid and duplicate rows.
- `downloads`: formula neutralising and download file names, for the files given back.
"""
