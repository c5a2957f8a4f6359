"""The report as a list of blocks, written once and rendered twice: Markdown (tables.md) and a
standalone LaTeX document (report.tex) with the same sections, tables and figures."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
                 "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$", "–": "--",
                 "−": "$-$", "σ": r"$\sigma$", "τ": r"$\tau$", "≤": r"$\leq$", "×": r"$\times$",
                 "Δ": r"$\Delta$"}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def latex_inline(text: str) -> str:
    """Text with `code` and **bold** (the Markdown this report writes) as LaTeX."""
    text = latex_escape(text)
    text = re.sub(r"`([^`]*)`", r"\\texttt{\1}", text)
    return re.sub(r"\*\*([^*]*)\*\*", r"\\textbf{\1}", text)


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2

    def markdown(self) -> str:
        return "#" * self.level + " " + self.text

    def latex(self) -> str:
        return f"\\{'sub' * max(self.level - 2, 0)}section*{{{latex_inline(self.text)}}}"


@dataclass(frozen=True)
class Text:
    text: str  # one paragraph; `code` and **bold** allowed

    def markdown(self) -> str:
        return self.text

    def latex(self) -> str:
        return latex_inline(self.text)


@dataclass(frozen=True)
class Rows:
    """A plain table: a header, rows of cells, and an alignment letter (l, r, c) per column."""

    header: list[str]
    rows: list[list[str]]
    align: str

    def markdown(self) -> str:
        rule = {"l": "---", "r": "---:", "c": ":---:"}
        lines = ["| " + " | ".join(self.header) + " |", "|" + "|".join(rule[a] for a in self.align) + "|"]
        return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in self.rows)])

    def latex(self) -> str:
        head = " & ".join(latex_inline(h) for h in self.header) + r" \\"
        rows = [" & ".join(latex_inline(c) for c in r) + r" \\" for r in self.rows]
        return "\n".join([r"{\footnotesize\setlength{\tabcolsep}{4pt}", f"\\begin{{longtable}}{{{self.align}}}", r"\toprule",
                          head, r"\midrule", r"\endhead", *rows, r"\bottomrule", r"\end{longtable}}"])


@dataclass(frozen=True)
class Figure:
    pdf: Path  # relative to the report's folder; a PNG of the same name beside it
    caption: str

    def markdown(self) -> str:
        png = self.pdf.with_suffix(".png").as_posix()
        return f"![{self.caption}]({png})\n\n{self.caption} (also [{self.pdf.as_posix()}]({self.pdf.as_posix()}))"

    def latex(self) -> str:
        return "\n".join([r"\begin{figure}[H]", r"\centering",
                          f"\\includegraphics[width=\\linewidth,height=0.8\\textheight,keepaspectratio]"
                          f"{{{self.pdf.as_posix()}}}", f"\\caption{{{latex_inline(self.caption)}}}", r"\end{figure}"])


@dataclass(frozen=True)
class Verbatim:
    """Already rendered: the same content in both formats (e.g. the main table)."""

    markdown_text: str
    latex_text: str

    def markdown(self) -> str:
        return self.markdown_text

    def latex(self) -> str:
        return self.latex_text


Block = Heading | Text | Rows | Figure | Verbatim


def to_markdown(blocks: list[Block]) -> str:
    return "\n\n".join(b.markdown() for b in blocks).rstrip() + "\n"


def to_latex(blocks: list[Block], title: str) -> str:
    """A standalone document (pdflatex report.tex); its PDF carries no date, so it is byte-reproducible."""
    preamble = [r"\pdfinfoomitdate=1", r"\pdftrailerid{}", r"\documentclass[10pt]{article}", r"\usepackage[utf8]{inputenc}",
                r"\usepackage[margin=2cm]{geometry}", r"\usepackage{booktabs}", r"\usepackage{longtable}",
                r"\usepackage{graphicx}", r"\usepackage{float}", r"\begin{document}"]
    return "\n\n".join(["\n".join(preamble), f"\\section*{{{latex_inline(title)}}}", *(b.latex() for b in blocks),
                         r"\end{document}"]) + "\n"
