"""envs/tessdata.sh (`make tesseract`, first of `make demo`'s steps) gets Tesseract's models
without root: on Debian out of Debian's packages into the environment's share/tessdata, where the
engine finds them, and the tests' Arabic font into its share/fonts, where the tests find it;
elsewhere one line says what to do, before anything else runs.

Each run is in a mount namespace of its own where the engine's system folders of models are
empty (tmpfs over them, as on a machine where nobody installed them), as a user without root
(nobody) where that matters; the tests run as root.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocrflow.engines.tesseract import SYSTEM_TESSDATA, TesseractEngine
from tests.conftest import REPO
from tests.support import pdfs
from tests.test_tesseract import ARABIC, CER_ARABIC, CER_FRENCH, FRENCH, cer, scanned

SCRIPT = REPO / "envs" / "tessdata.sh"
LANGS = ["ara", "fra", "eng", "osd"]
MODELS = {f"{code}.traineddata" for code in LANGS}
APT_STATE = ("/var/lib/apt/lists", "/var/cache/apt")  # a container where apt-get update never ran
# The engine in the user's venv reads each PDF's first page, as tests/test_tesseract.py does.
READ = """
import json, sys
from ocrflow.run import config
from ocrflow import engines
from ocrflow.engines import PageInput
from ocrflow.inputs.render import RenderTask, _close_open_document, render_page
settings = config.validate({"input": "x"})["engines"]["tesseract"]
engine = engines.create("tesseract", settings, threads=2)
pages = [PageInput(path, 1, path) for path in sys.argv[1:]]
for page in pages:
    page.image = render_page(RenderTask(page, engine.render_spec))
_close_open_document()
engine.start()
try:
    outputs = {page.source_path: output for page, output in engine.run(pages)}
finally:
    engine.close()
print(json.dumps({"prefix": sys.prefix, "tessdata": str(engine.tessdata),
                  "pages": [{"text": outputs[path].text, "error": outputs[path].error,
                             "meta": outputs[path].meta} for path in sys.argv[1:]]}))
"""


def run(command: list[str], *, user: pwd.struct_passwd | None = None,
        env: dict[str, str] | None = None, hide: tuple[str, ...] = (),
        cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``command`` in a mount namespace where the engine's system tessdata folders and ``hide``
    are empty, as ``user`` (root when None), with only the variables of ``env`` and a PATH."""
    folders = [f for f in (*SYSTEM_TESSDATA, *hide) if Path(f).is_dir()]
    mounts = "".join(f"mount -t tmpfs none {shlex.quote(f)} && " for f in folders)
    drop = [] if user is None else ["setpriv", f"--reuid={user.pw_uid}",
                                    f"--regid={user.pw_gid}", "--init-groups", "--reset-env"]
    variables = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", **(env or {})}
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", mounts + 'exec "$@"',
         "sh", *drop, "env", "-i", *(f"{k}={v}" for k, v in variables.items()), *command],
        capture_output=True, text=True, cwd=cwd, timeout=timeout)


def reachable(path: Path) -> bool:
    """Whether a user without root can get at ``path``: every folder above it searchable."""
    path = Path(os.path.realpath(path))
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents) and bool(
        path.stat().st_mode & stat.S_IROTH)


@pytest.fixture(scope="module")
def user() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("these tests run as root: they hide the system's models in a mount "
                        "namespace and drop to a user without root")
        pytest.skip("hiding the system's models (a mount namespace) and dropping to a user without "
                    "root take root")
    return pwd.getpwnam("nobody")


@pytest.fixture
def base(user: pwd.struct_passwd) -> Iterator[Path]:
    """A folder of the user's under /tmp (pytest's own is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="ocrflow-tessdata-", dir="/tmp"))
    os.chown(folder, user.pw_uid, user.pw_gid)
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def user_venv(folder: Path, user: pwd.struct_passwd) -> Path:
    """A venv the user can run, with this venv's packages and ocrflow: its sys.prefix is its own,
    so the engine looks in <folder>/share/tessdata as in .venv's."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    pythons = [Path(os.path.realpath(sys.executable)), Path(f"/usr/bin/python{version}")]
    python = next((p for p in pythons if p.exists() and reachable(p)), None)
    assert python is not None, (
        f"no Python {version} a user without root can run ({', '.join(map(str, pythons))}): the "
        "test runs the engine as one")
    site_packages = Path(sysconfig.get_paths()["purelib"])
    assert reachable(REPO / "ocrflow" / "__init__.py") and reachable(site_packages), (
        f"{REPO} and {site_packages} must be readable by a user without root")
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(folder)], check=True)
    # site.addsitedir also reads the .pth files there: ocrflow's editable install
    (Path(folder, "lib", f"python{version}", "site-packages", "ocrflow-tests.pth")
     .write_text(f"import site; site.addsitedir({str(site_packages)!r})\n"))
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(folder)], check=True)
    return folder


def bin_with(folder: Path, *commands: str) -> Path:
    """A folder for PATH holding only ``commands`` (links to this machine's)."""
    folder.mkdir()
    for command in commands:
        found = shutil.which(command)
        assert found, command
        (folder / command).symlink_to(found)
    return folder


def test_the_script_fetches_the_default_languages_and_looks_where_the_engine_does() -> None:
    languages = TesseractEngine.OPTIONS["properties"]["languages"]["default"]
    (line,) = re.findall(r"^TESSDATA_LANGS := (.*)$", (REPO / "Makefile").read_text(), re.M)
    assert sorted(line.split()) == sorted([*languages, "osd"])  # osd: detect_script needs it
    (folders,) = re.findall(r"^SYSTEM_TESSDATA=\(([^)]*)\)", SCRIPT.read_text(), re.M)
    assert tuple(folders.split()) == SYSTEM_TESSDATA
    assert os.access(SCRIPT, os.X_OK)


@pytest.mark.slow
@pytest.mark.services  # root: a mount namespace, and a user without root
def test_without_root_the_models_come_from_debian_packages_and_the_engine_reads_with_them(
        user: pwd.struct_passwd, base: Path) -> None:
    """As `make demo` runs it on a cluster's login node: Debian's packages downloaded and
    unpacked by a user without root into the venv's share/tessdata, read from there."""
    venv = user_venv(base / "venv", user)
    tessdata = venv / "share" / "tessdata"
    fetched = run([str(SCRIPT), str(tessdata), *LANGS], user=user, cwd=base)
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert "fetching Tesseract's ara fra eng osd models" in fetched.stdout
    assert {p.name for p in tessdata.iterdir()} == MODELS  # no part-copied file left
    assert all(p.stat().st_uid == user.pw_uid for p in tessdata.iterdir())

    # nothing more to do, now that they are there: not even apt-get is needed
    again = run([str(SCRIPT), str(tessdata), *LANGS], user=user, cwd=base,
                env={"PATH": str(bin_with(base / "bin", "bash"))})
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")

    # the pages of tests/test_tesseract.py: OSD wants more than a line to name a script
    scans = [pdfs.write(base / "french.pdf", scanned(pdfs.text_pdf(["\n".join(FRENCH)]))),
             pdfs.write(base / "arabic.pdf", scanned(pdfs.arabic_pdf(ARABIC, font_size=15),
                                                     seed=1))]
    for scan in scans:
        os.chmod(scan, 0o644)
    read = run([str(venv / "bin" / "python"), "-c", READ, *map(str, scans)], user=user, cwd=base)
    assert read.returncode == 0, read.stderr[-4000:]
    result = json.loads(read.stdout)
    assert (result["prefix"], result["tessdata"]) == (str(venv), str(tessdata))
    (on_french, on_arabic) = result["pages"]
    assert on_french["error"] == on_arabic["error"] == ""
    # OSD (osd.traineddata) sent each page to its script's languages
    assert (on_french["meta"]["script"], on_french["meta"]["languages"]) == ("Latin", "fra+eng")
    assert on_arabic["meta"]["script"] == "Arabic"
    assert cer(on_french["text"], FRENCH) <= CER_FRENCH, on_french["text"]
    assert cer(on_arabic["text"], ARABIC) <= CER_ARABIC, on_arabic["text"]
    for word in ("Arrêté", "économie", "février", "Élaboré"):
        assert word in on_french["text"]
    assert "المملكة المغربية" in on_arabic["text"].splitlines()[0]  # in logical order


@pytest.mark.services  # root: a mount namespace, and a user without root; the network
def test_without_root_the_font_comes_into_the_env_and_the_tests_find_it_there(
        user: pwd.struct_passwd, base: Path) -> None:
    """`make tesseract` as `make test-fast` runs it, for a user without root on a machine without
    the Amiri font: fonts-hosny-amiri downloaded and unpacked into the venv's share/fonts, where
    tests/support/pdfs.amiri() finds it when the system has none."""
    venv = user_venv(base / "venv", user)
    tessdata = venv / "share" / "tessdata"
    fonts = venv / "share" / "fonts"
    tessdata.mkdir(parents=True)
    for model in MODELS:  # the models are there already: only the font is missing
        shutil.copy(Path(SYSTEM_TESSDATA[0], model), tessdata / model)
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(venv / "share")],
                   check=True)
    system_font = pdfs.AMIRI_PLACES[0].parent  # hidden: a machine where root never installed it
    command = [str(SCRIPT), "--root-also", "fonts-hosny-amiri", str(tessdata), *LANGS]
    fetched = run(command, user=user, cwd=base, hide=(str(system_font),))
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert fetched.stdout == (f"envs/tessdata.sh: fetching the fonts fonts-hosny-amiri (the tests' "
                              f"Arabic pages) into {fonts} (out of Debian's packages, no root "
                              "needed)\n")
    assert [p.name for p in fonts.iterdir()] == ["fonts-hosny-amiri"]  # no part-copied folder
    regular = fonts / "fonts-hosny-amiri" / "Amiri-Regular.ttf"
    assert regular.stat().st_uid == user.pw_uid and regular.stat().st_size > 100_000
    assert {p.name for p in tessdata.iterdir()} == MODELS

    # nothing more to do, now that it is there: not even apt-get is needed
    again = run(command, user=user, cwd=base, hide=(str(system_font),),
                env={"PATH": str(bin_with(base / "bin", "bash"))})
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")

    # the tests' own lookup, run by the user in that venv: the system's font absent, the venv's
    find = ("from tests.support import pdfs; print(pdfs.amiri()); "
            "print(len(pdfs.arabic_pdf(['المملكة المغربية'])))")
    found = run([str(venv / "bin" / "python"), "-c", find], user=user, cwd=base,
                hide=(str(system_font),), env={"PYTHONPATH": str(REPO)})
    assert found.returncode == 0, found.stderr[-4000:]
    (path, size) = found.stdout.splitlines()
    assert path == str(regular) and int(size) > 1_000  # a page set in it (a subset embedded)


@pytest.mark.services  # root: a mount namespace, and a user without root
def test_when_apt_cannot_fetch_the_font_one_line_says_so_and_make_goes_on(
        user: pwd.struct_passwd, base: Path) -> None:
    """Only the tests need the font: `make demo` is not stopped for it."""
    config = base / "apt.conf"
    config.write_text('Dir::Etc::SourceList "/dev/null";\nDir::Etc::SourceParts "/nonexistent";\n')
    prefix = base / "models"
    prefix.mkdir()
    for code in LANGS:
        (prefix / f"{code}.traineddata").write_bytes(b"model")
    tessdata = base / "venv" / "share" / "tessdata"
    result = run([str(SCRIPT), "--root-also", "fonts-hosny-amiri", str(tessdata), *LANGS],
                 user=user, cwd=base, hide=(*APT_STATE, str(pdfs.AMIRI_PLACES[0].parent)),
                 env={"APT_CONFIG": str(config), "TESSDATA_PREFIX": str(prefix)})
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("envs/tessdata.sh: cannot download fonts-hosny-amiri with apt-get (E: ")
    assert line.endswith("the tests that set pages in them fail naming them; install them (as "
                         "root)"), line
    assert not (base / "venv" / "share" / "fonts" / "fonts-hosny-amiri").exists()


def test_the_tests_look_for_amiri_in_the_system_then_in_the_env(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system, env = tmp_path / "system" / "Amiri-Regular.ttf", tmp_path / "env" / "Amiri-Regular.ttf"
    monkeypatch.setattr(pdfs, "AMIRI_PLACES", (system, env))
    with pytest.raises(FileNotFoundError, match=r"make tesseract.*fonts-hosny-amiri"):
        pdfs.amiri()
    for font in (env, system):
        font.parent.mkdir()
        font.write_bytes(b"font")
        assert pdfs.amiri() == font


@pytest.mark.slow
@pytest.mark.services  # root: a mount namespace, and a user without root
def test_without_package_lists_the_user_fetches_lists_of_their_own(
        user: pwd.struct_passwd, base: Path) -> None:
    """A fresh container (no `apt-get update` ever): apt-get update into a temporary folder,
    as the user, then the packages."""
    tessdata = base / "venv" / "share" / "tessdata"
    (base / "tmp").mkdir()
    os.chown(base / "tmp", user.pw_uid, user.pw_gid)
    result = run([str(SCRIPT), str(tessdata), *LANGS], user=user, cwd=base, hide=APT_STATE,
                 env={"TMPDIR": str(base / "tmp")})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fetching the lists into a temporary folder first (apt-get update, as nobody)" in (
        result.stdout)
    assert {p.name for p in tessdata.iterdir()} == MODELS
    assert all(p.stat().st_size > 100_000 for p in tessdata.iterdir())
    assert not list((base / "tmp").iterdir())  # its temporary folder, lists and all, is gone


@pytest.mark.services  # root: a mount namespace, and a user without root
def test_when_apt_cannot_fetch_the_packages_one_line_says_what_to_do(
        user: pwd.struct_passwd, base: Path) -> None:
    """No package lists and no source to fetch them from: the user is told, make stops."""
    config = base / "apt.conf"
    config.write_text('Dir::Etc::SourceList "/dev/null";\nDir::Etc::SourceParts "/nonexistent";\n')
    tessdata = base / "venv" / "share" / "tessdata"
    result = run([str(SCRIPT), str(tessdata), *LANGS], user=user, cwd=base, hide=APT_STATE,
                 env={"APT_CONFIG": str(config)})
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("envs/tessdata.sh: cannot download tesseract-ocr-ara tesseract-ocr-fra "
                           "tesseract-ocr-eng tesseract-ocr-osd with apt-get (E: "), line
    assert "TESSDATA_PREFIX" in line and "--sdm conda" in line
    assert not tessdata.exists() or not list(tessdata.iterdir())


@pytest.mark.services  # root: a mount namespace, and a user without root
def test_without_apt_one_line_says_what_to_do_and_make_demo_stops_first(
        user: pwd.struct_passwd, base: Path) -> None:
    """RHEL, macOS: no apt-get, no dpkg-deb. One line names the languages and what to do, and
    `make demo` stops on it before it builds its venv or starts Snakemake."""
    tessdata = base / "venv" / "share" / "tessdata"
    path = str(bin_with(base / "bin", "bash"))
    result = run([str(SCRIPT), str(tessdata), *LANGS], cwd=base, env={"PATH": path})
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "Tesseract's models for ara fra eng osd" in line
    for advice in ("dnf install tesseract-langpack-ara tesseract-langpack-fra "
                   "tesseract-langpack-eng tesseract-osd", "brew install tesseract tesseract-lang",
                   "TESSDATA_PREFIX", "ara.traineddata fra.traineddata eng.traineddata "
                   "osd.traineddata", "--sdm conda"):
        assert advice in line
    assert not tessdata.exists()

    # make, and the sed its Makefile runs when read: what it takes to get as far as the models
    make_path = str(bin_with(base / "make-bin", "bash", "make", "sed"))
    venv = base / "venv"
    demo = run(["make", "-C", str(REPO), "demo", f"VENV={venv}"], cwd=base,
               env={"PATH": make_path})
    assert demo.returncode != 0
    assert demo.stdout.splitlines() == [f"make: Entering directory '{REPO}'",
                                        f"make: Leaving directory '{REPO}'"]
    assert demo.stderr.splitlines()[0] == line
    assert re.fullmatch(r"make: \*\*\* \[Makefile:\d+: tesseract\] Error 1",
                        demo.stderr.splitlines()[1])
    assert not venv.exists()  # the venv is not built, Snakemake never starts


@pytest.mark.services  # root: a mount namespace, and a user without root
def test_the_models_where_tessdata_prefix_points_are_the_ones_checked(
        user: pwd.struct_passwd, base: Path) -> None:
    """The engine takes TESSDATA_PREFIX first: models there are enough, and a folder there that
    lacks some is named, not worked around (the engine would still read from it)."""
    prefix = base / "models"
    prefix.mkdir()
    for code in LANGS:
        (prefix / f"{code}.traineddata").write_bytes(b"model")
    tessdata = base / "venv" / "share" / "tessdata"
    no_apt = {"PATH": str(bin_with(base / "bin", "bash")), "TESSDATA_PREFIX": str(prefix)}
    enough = run([str(SCRIPT), str(tessdata), *LANGS], user=user, cwd=base, env=no_apt)
    assert (enough.returncode, enough.stdout, enough.stderr) == (0, "", "")
    (prefix / "ara.traineddata").unlink()
    (prefix / "fra.traineddata").chmod(0o600)  # root's: not readable by the user
    lacking = run([str(SCRIPT), str(tessdata), *LANGS], user=user, cwd=base, env=no_apt)
    assert lacking.returncode == 1
    assert lacking.stderr == (
        f"envs/tessdata.sh: TESSDATA_PREFIX={prefix} has no readable model for ara fra, and the "
        "tesseract engine reads its models from there: add them to it, or unset TESSDATA_PREFIX "
        f"to have them fetched into {tessdata}\n")
    assert not tessdata.exists()
