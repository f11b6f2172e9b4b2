"""The audit pack's HTML pages read with the standard library: sections, tiles, heatmap cells,
the exceptions listed, the IDs shown with their tooltips, every tag and all text."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path


class Index(HTMLParser):
    """Sections, tiles, heatmap cells, the exceptions listed, IDs shown, every tag, all text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.tiles: dict[str, str] = {}
        self.cells: dict[tuple[str, str], str] = {}
        self.listed: dict[tuple[str, str], str] = {}  # (control, resource ID) -> status
        self.codes: list[tuple[str, str | None]] = []  # (text shown, tooltip)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self._tile: str | None = None
        self._resource: str | None = None
        self._control = self._status = ""
        self._code: list[str] | None = None
        self._code_title: str | None = None
        self._item: str | None = None  # an item's tooltip, which its resource's short ID shares

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        self.tags.append((tag, attrs))
        if "data-section" in attrs:
            self.sections.append(attrs["data-section"])
        if "data-tile" in attrs:
            self._tile = attrs["data-tile"]
        if tag == "g" and "data-resource" in attrs:
            self._resource = attrs["data-resource"]
        if tag == "rect" and "data-state" in attrs and self._resource:
            self.cells[self._resource, attrs["data-day"]] = attrs["data-state"]
        if tag == "div" and "data-control" in attrs:
            self._control = attrs["data-control"]
        if tag == "li" and "data-status" in attrs:
            self._status = attrs["data-status"]
        if tag == "span" and attrs.get("class") == "item":
            resource = attrs["title"].split(" · ")[0]  # the whole ID, then the vault
            self.listed[self._control, resource] = self._status
            self._item = resource
        if tag == "code":
            self._code, self._code_title = [], attrs.get("title") or self._item
            self._item = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "code" and self._code is not None:
            self.codes.append(("".join(self._code), self._code_title))
            self._code = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._code is not None:
            self._code.append(data)
        if self._tile and data.strip() and self._tile not in self.tiles:
            self.tiles[self._tile] = data.strip()
            self._tile = None


def read_index(pack: Path, page: str = "index.html") -> Index:
    index = Index()
    index.feed((pack / page).read_text(encoding="utf-8"))
    return index
