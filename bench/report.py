"""Machine description, the targets table, bench/RESULTS.md and the chart for bench/run.py."""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


def _first_line(cmd: list[str]) -> str:
    if not shutil.which(cmd[0]) and not os.path.exists(cmd[0]):
        return "not found"
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"
    text = (out.stdout.strip() or out.stderr.strip())
    return text.splitlines()[0].strip() if text else "unknown"


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    family = re.search(r"^cpu family\s*:\s*(\d+)$", text, re.M)
    number = re.search(r"^model\s*:\s*(\d+)$", text, re.M)
    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)$", text, re.M)
    parts = [model.group(1).strip() if model else "unknown"]
    if family and number:
        parts.append(f"family {family.group(1)} model {number.group(1)}")
    if mhz:
        parts.append(f"{float(mhz.group(1)):.0f} MHz")
    hypervisor = "hypervisor" in (re.search(r"^flags\s*:(.*)$", text, re.M) or [""])[0]
    return ", ".join(parts) + (" (virtual machine)" if hypervisor else "")


def mem_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def filesystem(path: Path) -> str:
    out = subprocess.run(["df", "-T", str(path)], capture_output=True, text=True)
    rows = out.stdout.splitlines()
    if len(rows) >= 2:
        f = rows[1].split()
        return f"{f[1]} on {f[0]}"
    return "unknown"


def describe_machine(work: Path, wrk: str | None) -> list[tuple[str, str]]:
    vips = _first_line(["vips", "--version"])
    rows = [
        ("CPU", f"{cpu_model()}"),
        ("cores", f"{os.cpu_count()} online (client, servers and libvips share them)"),
        ("RAM", mem_total()),
        ("kernel", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("OS", _os_release()),
        ("Swift", _first_line(["swift", "--version"])),
        ("libvips", vips),
        ("nginx", _first_line(["nginx", "-v"]) if shutil.which("nginx") else _first_line(["/usr/sbin/nginx", "-v"])),
        ("SeaweedFS", _weed_version()),
        ("load generator", (wrk.split(" Copyright")[0] if wrk else
                            f"Python {platform.python_version()} threads (http.client)")),
        ("curl", " ".join(_first_line(["curl", "--version"]).split()[:2])),
        ("Python", platform.python_version()),
        ("temp dir filesystem", filesystem(work)),
        ("load average at start", " ".join(f"{x:.2f}" for x in os.getloadavg())),
    ]
    return rows


def _os_release() -> str:
    try:
        m = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', Path("/etc/os-release").read_text(), re.M)
        return m.group(1) if m else "unknown"
    except OSError:
        return "unknown"


def _weed_version() -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "conformance"))
    try:
        from weedserver import weed_binary

        line = _first_line([weed_binary(), "version"])
        return f"weed {line} (`weed mini`)"
    except Exception as e:  # not installed
        return f"not found ({e})"


# --------------------------------------------------------------------------------------------
# Targets


@dataclass
class Target:
    """One row of the targets table: `ratio` compared with `threshold` by `op` (">=", "<=", "<")."""
    name: str
    mediagate: str          # the measured value, formatted with its unit
    reference: str
    ratio: float | None     # mediagate / reference (None: no ratio, the value itself is checked)
    op: str
    threshold: float
    checked: float | None = None  # what is compared (ratio by default)
    unit: str = "×"
    note: str = ""

    @property
    def value(self) -> float | None:
        return self.checked if self.checked is not None else self.ratio

    @property
    def passed(self) -> bool | None:
        v = self.value
        if v is None:
            return None
        return {">=": v >= self.threshold, "<=": v <= self.threshold, "<": v < self.threshold}[self.op]

    @property
    def target_text(self) -> str:
        op = {">=": "≥", "<=": "≤", "<": "<"}[self.op]
        return f"{op} {self.threshold:g}{' ' if self.unit != '×' else ''}{self.unit}"

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "MISS", None: "n/a"}[self.passed]


def ratio_text(r: float | None) -> str:
    return "—" if r is None else f"{r:.2f}×"


def targets_table_text(targets: list[Target]) -> str:
    head = f"{'target':<44}{'mediagate':>14}{'reference':>16}{'ratio':>9}  {'target':<10}{'':>5}"
    lines = [head, "-" * len(head)]
    for t in targets:
        lines.append(f"{t.name:<44}{t.mediagate:>14}{t.reference:>16}{ratio_text(t.ratio):>9}  "
                     f"{t.target_text:<10}{t.verdict:>5}" + (f"  {t.note}" if t.note else ""))
    return "\n".join(lines)


def targets_table_md(targets: list[Target]) -> str:
    rows = ["| target | mediagate | reference | ratio | target | pass/miss | note |",
            "|---|---:|---:|---:|---|---|---|"]
    for t in targets:
        rows.append(f"| {t.name} | {t.mediagate} | {t.reference} | {ratio_text(t.ratio)} | {t.target_text} | "
                    f"{'**MISS**' if t.passed is False else t.verdict} | {t.note} |")
    return "\n".join(rows)


def chart(targets: list[Target], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [t for t in targets if t.value is not None and t.value > 0]
    if not rows:
        raise ValueError("no measured target to chart")
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(rows) + 1.6))
    ys = list(range(len(rows)))[::-1]
    values = [t.value for t in rows]
    colors = ["#2e7d32" if t.passed else "#c62828" for t in rows]
    ax.barh(ys, values, color=colors, height=0.6)
    for y, t in zip(ys, rows):
        ax.plot([t.threshold, t.threshold], [y - 0.4, y + 0.4], color="black", linewidth=2)
        ax.text(max(t.value, t.threshold) * 1.1, y, f"{t.value:.2f}{t.unit if t.unit == '×' else ' ' + t.unit}  "
                f"(target {t.target_text}, {t.verdict})", va="center", fontsize=8)
    ax.set_yticks(ys)
    ax.set_yticklabels([t.name for t in rows], fontsize=8)
    ax.set_xscale("log")
    lo = min(min(values), min(t.threshold for t in rows))
    hi = max(max(values), max(t.threshold for t in rows))
    ax.set_xlim(lo / 2, hi * 12)
    ax.axvline(1.0, color="#888888", linewidth=0.8, linestyle=":")
    ax.set_xlabel("mediagate / reference (log scale); black tick = target; green = pass, red = miss")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
