"""The thesis's published numbers, transcribed once (mean ± 95 % CI as printed), for every chapter to set beside
its own. Source: ``shared/thesis/thesis.txt``; each table keeps the thesis's row and column names.

Cells are written as the thesis prints them ("2.026±0.18") and parsed here, so a transcription can be checked
against the text by eye. :func:`published` returns a tidy frame: table, group, row, metric, mean, ci.
"""

from __future__ import annotations

import pandas as pd

M3 = ("CE", "Calibration", "FGSM Loss")
M5 = ("CE", "FGSM Loss", "Calibration", "Corruption CE")

# table id -> (caption, metrics, {group: {row: [cells in metric order]}})
TABLES: dict[str, tuple[str, tuple[str, ...], dict[str, dict[str, list[str]]]]] = {
    "3.1": ("Aggregated human labels (M = 51 CIFAR-10H, M = 6 ours); ResNet-34A, ResNet-50, VGG-11, 5 seeds each",
            M3, {
                "CIFAR-10H": {
                    "Hard Labels": ["2.026±0.18", "0.277±0.01", "15.455±7.5"],
                    "Random Labels": ["1.77±0.16", "0.226±0.02", "13.476±1.39"],
                    "Uniform Labels": ["1.599±0.13", "0.203±0.02", "10.199±3.82"],
                    "CIFAR-10H": ["1.325±0.07", "0.201±0.01", "8.750±1.8"],
                    "Ours (T2, Clamp)": ["1.369±0.07", "0.203±0.01", "8.872±1.63"]},
                "CIFAR-10S": {
                    "Hard Labels": ["4.46±0.49", "0.425±0.09", "15.782±4.67"],
                    "Random Labels": ["3.093±0.53", "0.353±0.05", "10.697±4.14"],
                    "Uniform Labels": ["2.923±0.26", "0.311±0.06", "11.768±5.18"],
                    "CIFAR-10H": ["2.558±0.16", "0.313±0.03", "8.416±1.64"],
                    "Ours (T2, Clamp)": ["2.591±0.19", "0.324±0.02", "9.116±1.63"]}}),
    "3.2": ("De-aggregated labels: one human's label per image per batch", M3, {
        "CIFAR-10H": {"CIFAR-10H": ["1.293±0.08", "0.194±0.01", "8.577±1.91"],
                      "Ours (T2, Clamp)": ["1.281±0.06", "0.184±0.01", "8.406±1.75"]},
        "CIFAR-10S": {"CIFAR-10H": ["2.459±0.21", "0.311±0.02", "8.334±1.75"],
                      "Ours (T2, Clamp)": ["2.355±0.14", "0.297±0.03", "8.405±1.59"]}}),
    "3.3": ("Fewer annotators: labels sampled per batch from a pool of M = 2 or M = 1 (ResNet-34A, 5 seeds)",
            ("CE (M=2)", "Calibration (M=2)", "FGSM Loss (M=2)", "CE (M=1)", "Calibration (M=1)", "FGSM Loss (M=1)"), {
                "CIFAR-10H": {"CIFAR-10H": ["1.71±0.15", "0.25±0.02", "14.16±0.67", "2.17±0.11", "0.29±0.01", "19.20±0.86"],
                              "Ours": ["1.49±0.08", "0.22±0.01", "11.57±0.44", "1.58±0.08", "0.23±0.01", "12.57±1.29"]},
                "CIFAR-10S": {"CIFAR-10H": ["3.37±0.42", "0.34±0.08", "13.13±0.7", "4.49±0.31", "0.45±0.05", "17.85±0.68"],
                              "Ours": ["2.88±0.17", "0.36±0.04", "11.39±0.59", "2.90±0.31", "0.38±0.06", "12.13±1.31"]}}),
    "3.4": ("Labels from subsets of the elicited knowledge; pool of M = 6 humans (elicitation time per label)",
            ("CE", "FGSM Loss", "Calibration"), {
                "CIFAR-10H": {"T1, Unif (12.8s)": ["1.423±0.08", "10.891±0.32", "0.198±0.01"],
                              "T1, Clamp (19.2s)": ["1.368±0.12", "10.386±0.8", "0.198±0.02"],
                              "T2, Unif (25.6s)": ["1.448±0.14", "10.474±0.44", "0.203±0.02"],
                              "T2, Clamp (32s)": ["1.306±0.19", "8.482±3.95", "0.183±0.03"]},
                "CIFAR-10S": {"T1, Unif (12.8s)": ["2.531±0.15", "11.25±0.4", "0.312±0.03"],
                              "T1, Clamp (19.2s)": ["2.637±0.31", "10.423±1.17", "0.328±0.06"],
                              "T2, Unif (25.6s)": ["2.63±0.29", "10.667±1.15", "0.339±0.1"],
                              "T2, Clamp (32s)": ["2.466±0.32", "10.382±1.0", "0.321±0.07"]}}),
    "B.1": ("De-aggregated human soft labels against label smoothing", M3, {
        "CIFAR-10H": {"Label Smoothing": ["1.368±0.19", "0.175±0.05", "6.965±1.7"],
                      "CIFAR-10H": ["1.293±0.08", "0.194±0.01", "8.577±1.91"],
                      "Ours (T2, Clamp)": ["1.281±0.06", "0.184±0.01", "8.406±1.75"]},
        "CIFAR-10S": {"Label Smoothing": ["2.674±0.33", "0.299±0.05", "9.375±3.4"],
                      "CIFAR-10H": ["2.459±0.21", "0.311±0.02", "8.334±1.75"],
                      "Ours (T2, Clamp)": ["2.355±0.14", "0.297±0.03", "8.405±1.59"]}}),
    "B.2": ("T1 labels: uniform vs semantic redistribution (ResNet-34A, 5 seeds)", M3, {
        "CIFAR-10H": {"Uniform": ["1.423±0.08", "0.198±0.01", "10.891±0.32"],
                      "Semantic": ["1.439±0.05", "0.198±0.02", "10.369±1.23"]},
        "CIFAR-10S": {"Uniform": ["2.531±0.15", "0.312±0.03", "11.25±0.4"],
                      "Semantic": ["2.568±0.97", "0.32±0.17", "10.284±1.35"]}}),
    "B.3": ("T2 labels: uniform vs semantic redistribution (ResNet-34A, 5 seeds)", M3, {
        "CIFAR-10H": {"Uniform": ["1.448±0.14", "0.203±0.02", "10.474±0.44"],
                      "Semantic": ["1.382±0.19", "0.195±0.04", "10.378±1.11"]},
        "CIFAR-10S": {"Uniform": ["2.63±0.29", "0.339±0.1", "10.667±1.15"],
                      "Semantic": ["2.64±0.73", "0.335±0.18", "10.326±1.72"]}}),
    "4.1": ("Labels for the 810 synthetic images of the augmenting set (PreAct ResNet-18), CIFAR-10H evaluation", M3, {
        "CIFAR-10H": {"Regular (No Aug)": ["2.25±0.04", "0.29±0.01", "14.53±0.22"],
                      "+ Uniform Labels": ["2.56±0.05", "0.29±0.01", "18.54±0.31"],
                      "+ Random Labels": ["2.66±0.05", "0.3±0.01", "19.75±0.31"],
                      "+ mixup Labels": ["2.19±0.04", "0.28±0.01", "14.35±0.21"],
                      "Ours (Agg, mean lambda_h)": ["2.27±0.04", "0.28±0.01", "15.07±0.22"]}}),
    "4.2": ("Individual (Sep) vs averaged (Agg) human relabelings vs mixup labels", M3, {
        "CIFAR-10H": {"mixup Labels": ["2.19±0.04", "0.28±0.01", "14.35±0.21"],
                      "Ours (Agg, mean lambda_h)": ["2.27±0.04", "0.28±0.01", "15.07±0.22"],
                      "Ours (Sep, lambda_h^m)": ["2.01±0.03", "0.27±0.01", "13.33±0.19"]}}),
    "4.3": ("Confidence smoothing gamma^omega (gamma = 0.005) with Agg and Sep labels", M3, {
        "CIFAR-10H": {"mixup Labels": ["2.19±0.04", "0.28±0.01", "14.35±0.21"],
                      "Ours (Agg, mean lambda_h)": ["2.27±0.04", "0.28±0.01", "15.07±0.22"],
                      "Ours (Sep, lambda_h^m)": ["2.01±0.03", "0.27±0.01", "13.33±0.19"],
                      "Ours (Agg, mean lambda_h with mean omega)": ["2.09±0.04", "0.27±0.01", "14.01±0.22"],
                      "Ours (Sep, lambda_h^m with omega_m)": ["1.83±0.03", "0.24±0.01", "11.81±0.19"]}}),
    "5.1": ("Variants of mixup (PreAct ResNet-34, hard endpoints)", M5, {
        "CIFAR-10H": {"mixup": ["1.252±0.02", "10.547±0.26", "0.087±0.01", "1.606±0.03"],
                      "Mix-MaxEnt": ["1.070±0.04", "6.436±0.59", "0.065±0.01", "1.340±0.03"],
                      "Ours (Ent-WC)": ["1.054±0.01", "3.314±0.05", "0.102±0.0", "1.346±0.03"]}}),
    "5.2": ("Hard vs soft (simulated CIFAR-10S) endpoints", M5, {
        "CIFAR-10H": {"mixup, Hard": ["1.252±0.02", "10.547±0.26", "0.087±0.01", "1.606±0.03"],
                      "mixup, Ours (Soft)": ["1.18±0.02", "8.893±0.24", "0.131±0.01", "1.48±0.03"],
                      "Mix-MaxEnt, Hard": ["1.07±0.04", "6.436±0.59", "0.065±0.01", "1.34±0.03"],
                      "Mix-MaxEnt, Ours (Soft)": ["1.019±0.02", "6.013±0.59", "0.054±0.01", "1.252±0.02"],
                      "Ours (Ent-WC), Hard": ["1.054±0.01", "3.314±0.05", "0.102±0.0", "1.346±0.03"],
                      "Ours (Ent-WC), Ours (Soft)": ["1.027±0.02", "3.399±0.06", "0.107±0.01", "1.30±0.02"]}}),
    "C.1": ("Mixing with lambda_g = tau_ij(lambda_f) fitted to human data, with and without Ent-WC",
            ("CE", "FGSM Loss", "Calibration"), {
                "CIFAR-10H": {"mixup, no Ent-WC": ["1.252±0.02", "10.547±0.26", "0.087±0.01"],
                              "tau mixing, no Ent-WC": ["1.28±0.04", "6.502±1.61", "0.172±0.11"],
                              "mixup, Ent-WC": ["1.054±0.01", "3.314±0.05", "0.102±0.0"],
                              "tau mixing, Ent-WC": ["1.039±0.02", "4.171±0.06", "0.109±0.01"]}}),
}


def parse_cell(cell: str) -> tuple[float, float]:
    """``"2.026±0.18"`` -> ``(2.026, 0.18)``."""
    mean, ci = cell.replace("+/-", "±").split("±")
    return float(mean), float(ci)


def published(table: str) -> pd.DataFrame:
    """The thesis's table as rows of (table, group, row, metric, mean, ci)."""
    if table not in TABLES:
        raise KeyError(f"unknown table {table!r}; transcribed: {', '.join(TABLES)}")
    _, metrics, groups = TABLES[table]
    rows = []
    for group, body in groups.items():
        for row, cells in body.items():
            if len(cells) != len(metrics):
                raise ValueError(f"table {table}, {group} / {row}: {len(cells)} cells for {len(metrics)} metrics")
            for metric, cell in zip(metrics, cells):
                mean, ci = parse_cell(cell)
                rows.append({"table": table, "group": group, "row": row, "metric": metric, "mean": mean, "ci": ci})
    return pd.DataFrame(rows)


def caption(table: str) -> str:
    return TABLES[table][0]
