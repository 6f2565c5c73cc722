"""Hostile inputs: PDFs that inflate to gigabytes, and paths that are no files at all. Each ends
failed with a one-line reason, fast, and the job stays within the memory it declared."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from ocrflow.core import atomic
from ocrflow.core.layout import Layout
from ocrflow.core.records import InventoryDocument, InventoryPage, PageInput, write_records
from ocrflow.engines.ocr import ShardJob, ocr_shard
from ocrflow.engines.settings import OcrSettings
from ocrflow.inputs.inventory import InventoryTask, inventory_document
from ocrflow.inputs.isolation import IsolatedPool, MemoryLimit
from ocrflow.inputs.render import RenderSpec, RenderTask, render_page
from ocrflow.inputs.settings import RenderSettings
from tests.support import pdfs
from tests.support.stand_in import DEFAULTS

REPO = Path(__file__).parent.parent
SETTINGS = DEFAULTS["inventory"]
JOB_MB = 2000  # the inventory job's default mem_mb
# The job's workers' limit from it: 2000 less 256 MB and 64 MB for each of the 8 word lists.
EXCEEDED = "too large: needed more than 1232 MB (limit from the job's mem_mb 2000)"


def pdf_bytes(objects: list[bytes]) -> bytes:
    """A PDF of these objects (numbered from 1, the first the catalog), with a true xref."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def stream(entries: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (entries, len(data), data)


def one_page(content: bytes, resources: bytes = b"<< >>", extra: tuple[bytes, ...] = ()) -> bytes:
    return pdf_bytes([b"<< /Type /Catalog /Pages 2 0 R >>",
                      b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                      b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources "
                      + resources + b" /Contents 4 0 R >>",
                      content, *extra])


def spaces_deflated(size: int, chunk: int = 1 << 20) -> bytes:
    """``size`` spaces as a zlib stream (1000:1), made in milliseconds: one chunk deflated once
    and repeated (a full flush ends each chunk on a byte with a fresh dictionary, so every copy is
    the same bytes), the Adler-32 of the whole in closed form."""
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = raw.compress(b" " * chunk) + raw.flush(zlib.Z_FULL_FLUSH)
    count = size // chunk
    total, prime = count * chunk, 65521
    low = (1 + total * ord(" ")) % prime
    high = (total + ord(" ") * total * (total + 1) // 2) % prime
    return b"\x78\xda" + block * count + raw.flush() + ((high << 16) | low).to_bytes(4, "big")


def content_bomb(size: int) -> bytes:
    """A page whose content stream inflates to ``size`` bytes (2 GB: a 2 MB file)."""
    return one_page(stream(b"/Filter /FlateDecode", spaces_deflated(size)))


def image_bomb(width: int, height: int, colour: bytes = b"/DeviceGray") -> bytes:
    """A page drawn over by one image of ``width`` x ``height`` pixels whose data is 64 KiB of
    zeros deflated: PDFium allocates the whole image all the same."""
    data = zlib.compress(bytes(1 << 16), 9)
    image = stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
                   b"/BitsPerComponent 8 /Filter /FlateDecode" % (width, height, colour), data)
    return one_page(stream(b"", b"q 595 0 0 842 0 0 cm /Im0 Do Q"),
                    b"<< /XObject << /Im0 5 0 R >> >>", (image,))


def run_inventory_job(members: Path, output: Path, mem_mb: int) -> dict[str, int]:
    """inventory_shard in a process of its own, as the inventory job runs it; its peak memory
    (RSS) and its workers' (the largest), in MB."""
    script = (
        "import json, resource, sys\n"
        "from pathlib import Path\n"
        "from ocrflow.inputs.inventory import inventory_shard\n"
        "from ocrflow.inputs.settings import InventorySettings\n"
        "from ocrflow.text.settings import TrustSettings\n"
        "from tests.support.stand_in import DEFAULTS\n"
        "if __name__ == '__main__':\n"
        "    inventory_shard(Path(sys.argv[1]), Path(sys.argv[2]),\n"
        "                    InventorySettings.from_config(DEFAULTS['inventory']), 1,\n"
        "                    TrustSettings.from_config(DEFAULTS['trust']),\n"
        "                    mem_mb=int(sys.argv[3]))\n"
        # The job's own peak is VmHWM: its ru_maxrss would count the test process it was
        # forked from (Linux keeps the larger across exec), which grows over a test session.
        "    hwm = next(line for line in open('/proc/self/status') if line.startswith('VmHWM'))\n"
        "    peak = {'job': int(hwm.split()[1]) // 1024, 'workers':\n"
        "            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024}\n"
        "    print(json.dumps(peak))\n")
    done = subprocess.run([sys.executable, "-c", script, str(members), str(output), str(mem_mb)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_memory_bombs_end_too_large_and_the_job_stays_within_its_mem_mb(tmp_path: Path) -> None:
    files = {
        "good": pdfs.text_pdf(["An ordinary page, read as ever."]),
        "inflates": content_bomb(2 << 30),  # 2 GB of content, 4 GB at PDFium's peak
        "pixels": image_bomb(40000, 40000),  # 1.6 billion pixels: over max_image_pixels
        "decoded": image_bomb(26000, 26000, b"/DeviceRGB"),  # 1934 MB decoded
    }
    members = tmp_path / "inputs.tsv"
    members.write_text("".join(f"{name}\t{pdfs.write(tmp_path / f'{name}.pdf', data)}\t1\t1\n"
                               for name, data in files.items()))
    started = time.monotonic()
    peak = run_inventory_job(members, tmp_path / "inventory.jsonl", JOB_MB)
    seconds = time.monotonic() - started
    docs = {d["doc_id"]: d for d in atomic.read_jsonl(tmp_path / "inventory.jsonl")}
    assert docs["good"]["error"] == "" and docs["good"]["pages"][0]["has_text_layer"]
    assert docs["inflates"]["error"] == EXCEEDED and docs["inflates"]["pages"] == []
    [pixels] = docs["pixels"]["pages"]
    assert docs["pixels"]["error"] == "" and pixels["error"] == (
        "too large: an image of 40000 x 40000 pixels (inventory.max_image_pixels 1000000000)")
    [decoded] = docs["decoded"]["pages"]
    assert decoded["error"] == ("too large: an image of 26000 x 26000 pixels takes 1934 MB "
                                "decoded; a worker may use 1232 MB (limit from the job's "
                                "mem_mb 2000)")
    assert peak["job"] + peak["workers"] < JOB_MB, peak  # each process's own peak, added
    assert seconds < 30


def test_a_text_layer_over_max_page_chars_is_a_failed_page(tmp_path: Path) -> None:
    line = "A line of a page with far more text than any page has. " * 2
    path = pdfs.write(tmp_path / "long.pdf", pdfs.text_pdf(["\n".join([line] * 30), line]))
    task = InventoryTask("doc", str(path), SETTINGS["max_page_points"], SETTINGS["ink_dpi"],
                         SETTINGS["text_layer_min_chars"], max_page_chars=1000)
    doc = inventory_document(task)
    long, short = doc.pages
    assert long.error.startswith("too large: text layer of ")
    assert long.error.endswith(" characters (inventory.max_page_chars 1000)")
    assert int(long.error.split()[5]) > 3000
    assert long.text_layer == "" and not long.has_text_layer  # failed, never read as empty
    assert short.error == "" and short.has_text_layer


def special_files(tmp_path: Path) -> dict[str, str]:
    fifo = tmp_path / "pipe.pdf"
    os.mkfifo(fifo)
    return {"fifo": str(fifo), "zero": "/dev/zero", "folder": str(tmp_path)}


@pytest.mark.parametrize(("name", "error"), [
    ("fifo", "not a regular file: a FIFO (named pipe)"),
    ("zero", "not a regular file: a character device"),
    ("folder", "not a regular file: a directory"),
    ("socket", "not a regular file: a socket"),
])
def test_a_special_file_is_unreadable_at_once(tmp_path: Path, name: str, error: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    paths = special_files(tmp_path)
    monkeypatch.chdir(tmp_path)  # a socket's path is bound relative: no length limit to meet
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind("s.pdf")
        paths["socket"] = str(tmp_path / "s.pdf")
        link = tmp_path / "link.pdf"  # a link is followed to what it names
        link.symlink_to(paths[name])
        for path in (paths[name], str(link)):
            started = time.monotonic()
            doc = inventory_document(InventoryTask(name, path, 14400, 36, 20))
            assert time.monotonic() - started < 1
            assert doc.error == error and doc.pages == [] and doc.content_hash is None


def test_special_files_in_a_shard_do_not_hold_it_up(tmp_path: Path) -> None:
    paths = special_files(tmp_path)
    good = pdfs.write(tmp_path / "good.pdf", pdfs.text_pdf(["fine"]))
    members = tmp_path / "inputs.tsv"
    members.write_text("".join(f"{name}\t{path}\t1\t1\n"
                               for name, path in [*paths.items(), ("good", good)]))
    started = time.monotonic()
    run_inventory_job(members, tmp_path / "inventory.jsonl", JOB_MB)
    assert time.monotonic() - started < 15  # the job's own start and word lists included
    docs = {d["doc_id"]: d for d in atomic.read_jsonl(tmp_path / "inventory.jsonl")}
    assert docs["good"]["error"] == ""
    for name in paths:
        assert docs[name]["error"] and docs[name]["pages"] == []


def render_outcomes(tmp_path: Path, memory: MemoryLimit) -> dict[str, object]:
    files = {"inflates": content_bomb(1 << 30), "decoded": image_bomb(26000, 26000,
                                                                      b"/DeviceRGB"),
             "good": pdfs.text_pdf(["fine"])}
    spec = RenderSpec(dpi=150, max_pixels=12_000_000)
    tasks = [RenderTask(PageInput("h", 1, str(pdfs.write(tmp_path / f"{name}.pdf", data)),
                                  doc_id=name), spec) for name, data in files.items()]
    with IsolatedPool(render_page, workers=1, timeout_s=60, memory=memory,
                      preload=("numpy", "pypdfium2", "PIL.Image")) as pool:
        return {o.task.page.doc_id: o for o in pool.imap_unordered(tasks)}


def test_a_page_whose_rendering_passes_the_limit_is_too_large(tmp_path: Path) -> None:
    outcomes = render_outcomes(tmp_path, MemoryLimit(872, job_mb=8000))
    assert outcomes["good"].ok and outcomes["good"].value.width == 1240
    assert outcomes["inflates"].too_large
    assert outcomes["inflates"].error == (
        "too large: needed more than 872 MB (limit from the job's mem_mb 8000)")
    assert outcomes["decoded"].too_large and outcomes["decoded"].error == (
        "too large: an image of 26000 x 26000 pixels takes 1934 MB decoded; a worker may use "
        "872 MB (limit from the job's mem_mb 8000)")


def test_the_ocr_job_records_a_page_too_large_to_render(tmp_path: Path) -> None:
    """A page the inventory let through (a larger limit) but the OCR job's render worker cannot
    hold: the page's reading is failed with the limit's words, and the job finishes."""
    bomb = pdfs.write(tmp_path / "inflates.pdf", content_bomb(1 << 30))
    good = pdfs.write(tmp_path / "good.pdf", pdfs.text_pdf(["fine"]))
    inventory = tmp_path / "inventory.jsonl"
    write_records(inventory, [InventoryDocument(name, str(path), f"{len(name):032x}", pages=[
        InventoryPage(1, 595, 842, ink=0.01)]) for name, path in
        (("inflates", bomb), ("good", good))])
    ocr_shard(ShardJob(inventories=(inventory,), output=tmp_path / "primary.jsonl",
                       stats=tmp_path / "stats.json", role="primary", engine_name="rapidocr",
                       settings=DEFAULTS["engines"]["rapidocr"],
                       store_root=Layout.of(tmp_path).page_store,
                       render=RenderSettings.from_config({**DEFAULTS["render"], "workers": 1}),
                       policy=OcrSettings.from_config(DEFAULTS["ocr"]),
                       mem_mb=1536))  # 1536 less 1024 for the job: the 512 MB floor
    readings = {r["doc_id"]: r for r in atomic.read_jsonl(tmp_path / "primary.jsonl")}
    assert readings["inflates"]["error"] == (
        "too large: needed more than 512 MB (limit from the job's mem_mb 1536)")
    assert readings["good"]["error"] == ""
