"""What a file is, from its first bytes: a downloaded "video" that is an HTML error page is caught.

`sniff(head)` names the container (and the extension to give the file) of the common video and
image formats, or says it is text/HTML, or None when it cannot tell.
"""

from __future__ import annotations

VIDEO = "video"
IMAGE = "image"


HEAD = 512  # bytes `sniff` wants


def sniff(head: bytes) -> tuple[str, str] | None:
    """(kind, extension) of a file from its first bytes (`HEAD`); kind is video, image or text."""
    h = head[:64]
    if len(h) >= 12 and h[4:8] == b"ftyp":
        brand = h[8:12]
        return (VIDEO, "mov") if brand == b"qt  " else (VIDEO, "mp4")
    if len(h) >= 8 and h[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return VIDEO, "mov"
    if h.startswith(b"\x1a\x45\xdf\xa3"):
        return (VIDEO, "webm") if b"webm" in head[:64] else (VIDEO, "mkv")
    if h.startswith(b"RIFF") and h[8:12] == b"AVI ":
        return VIDEO, "avi"
    if h.startswith(b"RIFF") and h[8:12] == b"WEBP":
        return IMAGE, "webp"
    if h.startswith(b"FLV"):
        return VIDEO, "flv"
    if h[:1] == b"\x47" and head[188:189] in (b"", b"\x47"):  # MPEG-TS: a sync byte every 188 bytes
        return VIDEO, "ts"
    if h.startswith(b"\x00\x00\x01\xba") or h.startswith(b"\x00\x00\x01\xb3"):
        return VIDEO, "mpg"
    if h.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return VIDEO, "wmv"
    if h.startswith(b"\xff\xd8\xff"):
        return IMAGE, "jpg"
    if h.startswith(b"\x89PNG\r\n\x1a\n"):
        return IMAGE, "png"
    if h.startswith((b"GIF87a", b"GIF89a")):
        return IMAGE, "gif"
    text = h.lstrip().lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml", b"{", b"[")) or b"<html" in h.lower():
        return "text", "html"
    return None
