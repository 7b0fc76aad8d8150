import pandas as pd

from core.io import read_csv, safe_csv_bytes


def test_formula_cells_are_neutralised_and_numbers_kept() -> None:
    df = pd.DataFrame({"name": ["=1+1", "+cmd", "-x", "@SUM(A1)", "ok", "-5"], "value": [-1.5, 2, 3, 4, 5, 6]})
    text = safe_csv_bytes(df).decode()
    back = read_csv(text.encode())
    assert back["name"].tolist() == ["'=1+1", "'+cmd", "'-x", "'@SUM(A1)", "ok", "-5"]
    assert back["value"].tolist() == [-1.5, 2, 3, 4, 5, 6]
