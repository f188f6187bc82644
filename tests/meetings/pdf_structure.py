"""Reading a PDF back as a screen reader and a printer would: its tag tree and marked content
(pikepdf), its text with each character's tag and marked-content id (pdfplumber), its pages
as text (poppler's pdftotext) and as pictures (poppler's pdftoppm)."""

from __future__ import annotations

import io
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pdfplumber
import pikepdf
from PIL import Image

MM = 72 / 25.4  # PDF points in a millimetre


@dataclass
class Element:
    """One structure element of the tag tree."""

    role: str                         # "/TH", "/P", "/Link", ...
    attributes: dict
    marks: list[tuple[int, int]]      # (page index, MCID) of its own marked content
    parent: Element | None = None
    children: list[Element] = field(default_factory=list)

    def ancestors(self) -> list[str]:
        out, at = [], self.parent
        while at is not None:
            out.append(at.role)
            at = at.parent
        return out


@dataclass
class TagTree:
    elements: list[Element]

    @property
    def reachable(self) -> set[tuple[int, int]]:
        """Every (page index, MCID) the tree reaches: what assistive technology reads."""
        return {mark for element in self.elements for mark in element.marks}

    def of(self, role: str) -> list[Element]:
        return [e for e in self.elements if e.role == role]


def tag_tree(data: bytes) -> TagTree:
    """The structure tree from StructTreeRoot down (only what hangs from the root counts)."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pages = {page.obj.objgen: n for n, page in enumerate(pdf.pages)}
        elements: list[Element] = []

        def walk(node, parent: Element | None, page: int | None) -> None:
            if isinstance(node, pikepdf.Array):
                for kid in node:
                    walk(kid, parent, page)
                return
            if isinstance(node, int) and parent is not None:
                parent.marks.append((page, int(node)))
                return
            if not isinstance(node, pikepdf.Dictionary):
                return
            kind = node.get("/Type")
            if "/Pg" in node:
                page = pages.get(node.Pg.objgen, page)
            if kind == "/MCR" and parent is not None:
                parent.marks.append((page, int(node.MCID)))
                return
            if kind == "/OBJR" or "/S" not in node:
                return
            attributes = {}
            if "/A" in node and isinstance(node.A, pikepdf.Dictionary):
                attributes = {str(k): str(v) for k, v in node.A.items()}
            element = Element(role=str(node.S), attributes=attributes, marks=[], parent=parent)
            elements.append(element)
            if parent is not None:
                parent.children.append(element)
            if "/K" in node:
                walk(node.K, element, page)

        walk(pdf.Root.StructTreeRoot.K, None, None)
        return TagTree(elements)


def artifacts(data: bytes) -> list[list[dict]]:
    """Each page's /Artifact marked-content properties, in drawing order."""
    out = []
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages:
            found = []
            for operands, _operator in pikepdf.parse_content_stream(page, "BDC BMC"):
                if operands and str(operands[0]) == "/Artifact":
                    found.append({str(k): str(v) for k, v in operands[1].items()}
                                 if len(operands) > 1 and isinstance(operands[1], pikepdf.Dictionary) else {})
            out.append(found)
    return out


def link_descriptions(data: bytes) -> list[str]:
    """The /Contents of every link annotation: what a screen reader says for the link."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return [str(annot.get("/Contents", "")) for page in pdf.pages for annot in page.get("/Annots", [])
                if annot.get("/Subtype") == "/Link"]


@dataclass
class Word:
    text: str
    page: int
    x0: float
    x1: float
    top: float
    bottom: float
    tag: str | None
    mcid: int | None


def words(data: bytes) -> tuple[list[Word], list[tuple[float, float]]]:
    """Every word with its box, the tag of its marked content and its MCID; and each page's size."""
    out, sizes = [], []
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for n, page in enumerate(pdf.pages):
            sizes.append((float(page.width), float(page.height)))
            for w in page.extract_words(extra_attrs=["tag", "mcid"], keep_blank_chars=False, use_text_flow=True):
                out.append(Word(w["text"], n, float(w["x0"]), float(w["x1"]), float(w["top"]), float(w["bottom"]),
                                w.get("tag"), w.get("mcid")))
    return out, sizes


def pages_text(data: bytes, tmp_path: Path) -> list[str]:
    """pdftotext -layout, page by page."""
    path = tmp_path / "read.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout
    pages = text.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def png_pages(data: bytes, tmp_path: Path, dpi: int = 24) -> list[Image.Image]:
    """Every page drawn as a PNG by poppler's pdftoppm (greyscale)."""
    path = tmp_path / "draw.pdf"
    path.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(path), str(tmp_path / "page")], check=True)
    files = sorted(tmp_path.glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    images = []
    for file in files:
        with Image.open(file) as image:
            images.append(image.convert("L"))
    return images


def ink_outside(image: Image.Image, *, left_mm: float, right_mm: float, threshold: int = 200) -> list[tuple[int, int]]:
    """Dark pixels in the strips left_mm from the left edge and right_mm from the right edge (A4
    is 210 mm wide): text that ran off the page's content area would leave ink there."""
    width, height = image.size
    per_mm = width / 210
    strips = (range(0, int(left_mm * per_mm)), range(width - int(right_mm * per_mm), width))
    pixels = image.load()
    return [(x, y) for xs in strips for x in xs for y in range(height) if pixels[x, y] < threshold]


def table_rows(data: bytes) -> list[list[str]]:
    """Every table row as a screen reader meets it: the words of each header and data cell,
    read through the tag tree (so a cell's text wrapped over several lines reads as one)."""
    tree = tag_tree(data)
    found, _ = words(data)
    by_mark: dict[tuple[int, int], list[str]] = defaultdict(list)
    for word in found:
        if word.mcid is not None:
            by_mark[(word.page, word.mcid)].append(word.text)

    def text(element: Element) -> str:
        parts = [" ".join(by_mark.get(mark, [])) for mark in element.marks]
        parts += [text(child) for child in element.children]
        return " ".join(" ".join(parts).split())

    return [[text(cell) for cell in row.children if cell.role in ("/TH", "/TD")] for row in tree.of("/TR")]
