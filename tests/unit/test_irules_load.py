"""load_irules: templates found (source tree and installed package), placeholders filled with
Tcl words that read back exactly, valid Tcl out, clear errors naming the file or setting."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tkinter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.irules import IRULE_NAMES, PLACEHOLDER, placeholder_values, render, tcl_word
from controller.errors import ConfigError
from controller.run.irules import load_irules, packaged_dir
from controller.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tcl() -> tkinter.Tk:
    interp = tkinter.Tcl()
    interp.tk.wantobjects(False)
    return interp


def test_templates_ship_with_the_package_source() -> None:
    # controller/irules is a symlink to the top-level folder, so both name the same files.
    assert packaged_dir().resolve() == (REPO / "irules").resolve()
    assert sorted(p.stem for p in (REPO / "irules").glob("*.tcl")) == sorted(IRULE_NAMES)


def test_every_placeholder_of_the_templates_is_known_and_used() -> None:
    values = placeholder_values(Settings())
    used: set[str] = set()
    for name in IRULE_NAMES:
        used |= set(PLACEHOLDER.findall((REPO / "irules" / f"{name}.tcl").read_text()))
    assert used <= set(values)
    # PARTITION is offered to operators' own copies; every other value reaches a template.
    assert set(values) - used == {"PARTITION"}


@pytest.mark.parametrize(
    "config",
    [
        Settings(),
        Settings(partition="prod", dns_suffix="Example.COM.", dns_ttl=5, dns_fallback="pass"),
        Settings(http_fallback="/Common/sorry_pool", dns_suffix="svc.cluster.local"),
        Settings(dns_suffix="example.com", dns_soa_hostmaster="dns@example.net"),
    ],
)
def test_loaded_irules_are_complete_tcl_without_placeholders(tcl: tkinter.Tk, config) -> None:
    texts = load_irules(config)
    assert sorted(texts) == sorted(IRULE_NAMES)
    for name, text in texts.items():
        assert not PLACEHOLDER.search(text), name
        assert text.endswith("\n") and not text.endswith("\n\n") and text == text.lstrip()
        assert tcl.call("info", "complete", text) == "1", name
        # What iControl REST hands back (stripped + "\n") equals what we send: no churn.
        assert text.strip() + "\n" == text
    assert f"set hosts_dg /{config.partition}/hosts\n" in texts["http_router"]
    assert f"set endpoints_dg /{config.partition}/endpoints\n" in texts["dns_resolver"]


def test_settings_reach_the_tcl_variables(tcl: tkinter.Tk) -> None:
    texts = load_irules(
        Settings(dns_suffix=".Docker.Example.", dns_ttl=7, http_fallback="/Common/sorry")
    )
    router = texts["http_router"]
    resolver = texts["dns_resolver"]
    assert "set fallback_pool /Common/sorry\n" in router
    assert "set suffix docker.example\n" in resolver
    assert "set ttl 7\n" in resolver
    assert "set fallback nxdomain\n" in resolver
    assert "set fallback_pool {}\n" in load_irules(Settings())["http_router"]
    assert "set primary ns.docker.example\n" in resolver
    assert "set hostmaster hostmaster.docker.example\n" in resolver
    assert "set gtm 0\n" in resolver


def test_soa_settings_reach_the_resolver() -> None:
    resolver = load_irules(
        Settings(
            dns_suffix="example.com",
            dns_soa_primary="BigIP-DNS.Example.NET.",
            dns_soa_hostmaster="dns-admin@example.net",
        )
    )["dns_resolver"]
    assert "set primary bigip-dns.example.net\n" in resolver
    assert "set hostmaster dns-admin.example.net\n" in resolver
    dotted = load_irules(Settings(dns_suffix="a.b", dns_soa_hostmaster="root.a.b"))["dns_resolver"]
    assert "set hostmaster root.a.b\n" in dotted
    plain = load_irules(Settings())["dns_resolver"]
    assert "set primary {}\n" in plain and "set hostmaster {}\n" in plain


def test_output_is_deterministic() -> None:
    assert load_irules(Settings(dns_suffix="a.b")) == load_irules(Settings(dns_suffix="a.b"))


def test_irules_dir_replaces_the_packaged_copies(tmp_path: Path) -> None:
    for name in IRULE_NAMES:
        (tmp_path / f"{name}.tcl").write_text(
            "\r\n# mine\r\nwhen RULE_INIT { set x @PARTITION@ ; set y @DNS_TTL@ }\r\n\r\n"
        )
    texts = load_irules(Settings(irules_dir=str(tmp_path), partition="p1", dns_ttl=9))
    for text in texts.values():
        assert text == "# mine\nwhen RULE_INIT { set x p1 ; set y 9 }\n"


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "http_router.tcl").write_text("when HTTP_REQUEST { }\n")
    with pytest.raises(ConfigError) as info:
        load_irules(Settings(irules_dir=str(tmp_path)))
    message = str(info.value)
    assert "irules-dir" in message and str(tmp_path / "dns_resolver.tcl") in message


def test_unknown_placeholder_names_file_line_and_placeholder(tmp_path: Path) -> None:
    (tmp_path / "http_router.tcl").write_text("# ok\nwhen HTTP_REQUEST {\n  pool @POOL_NAME@\n}\n")
    (tmp_path / "dns_resolver.tcl").write_text("when DNS_REQUEST { }\n")
    with pytest.raises(ConfigError) as info:
        load_irules(Settings(irules_dir=str(tmp_path)))
    message = str(info.value)
    assert f"{tmp_path / 'http_router.tcl'}:3:" in message
    assert "@POOL_NAME@" in message and "@HOSTS_DG@" in message  # lists the known ones


def test_values_are_never_rescanned_for_placeholders() -> None:
    out = render("set a @A@\nset b @B@\n", {"A": "@B@", "B": "x"}, "t.tcl")
    assert out == "set a \\@B\\@\nset b x\n"


@pytest.mark.parametrize(
    ("config", "setting"),
    [
        (dict(http_fallback="500"), "http-fallback"),
        (dict(http_fallback="sorry_pool"), "http-fallback"),
        (dict(http_fallback="/Common/has space"), "http-fallback"),
        (dict(dns_suffix="exa mple.com"), "dns-suffix"),
        (dict(dns_suffix="-bad.example"), "dns-suffix"),
        (dict(dns_suffix="a..b"), "dns-suffix"),
        (dict(dns_suffix="x" * 64 + ".com"), "dns-suffix"),
        (dict(dns_suffix="a\n.com"), "dns-suffix"),
        (dict(dns_ttl=-1), "dns-ttl"),
        (dict(dns_ttl=2**31), "dns-ttl"),
        (dict(dns_suffix="example.com", dns_soa_primary="ns"), "dns-soa-primary"),
        (dict(dns_suffix="example.com", dns_soa_primary="ns .example.com"), "dns-soa-primary"),
        (dict(dns_suffix="example.com", dns_soa_primary="ns.exa$mple.com"), "dns-soa-primary"),
        (dict(dns_soa_primary="ns.example.com"), "dns-soa-primary"),  # no zone to describe
        (
            dict(dns_suffix="example.com", dns_soa_hostmaster="a.b@example.com"),
            "dns-soa-hostmaster",
        ),
        (dict(dns_suffix="example.com", dns_soa_hostmaster="root@"), "dns-soa-hostmaster"),
        (
            dict(dns_suffix="example.com", dns_soa_hostmaster="x\n.example.com"),
            "dns-soa-hostmaster",
        ),
        (dict(dns_soa_hostmaster="hostmaster@example.com"), "dns-soa-hostmaster"),
    ],
)
def test_bad_iRule_settings_name_the_setting(config: dict, setting: str) -> None:
    with pytest.raises(ConfigError, match=f"^{setting}: "):
        load_irules(Settings(**config))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0xFFFF, codec="utf-8")))
def test_tcl_word_reads_back_exactly(value: str) -> None:
    interp = _property_tcl()
    word = tcl_word(value)
    # As a command argument, inside a braced script, as the last word of a line: all the places
    # a placeholder stands in the templates.
    assert interp.eval(f"set v {word}") == value
    assert interp.eval(f"apply {{{{}} {{ set v {word} }}}}") == value
    assert interp.eval(f"list {word}") == interp.call("list", value)
    assert interp.call("info", "complete", f"when X {{\n  set v {word}\n}}\n") == "1"


def test_tcl_word_refuses_characters_beyond_the_bmp() -> None:
    with pytest.raises(ConfigError, match="U\\+1F600"):
        tcl_word("smile \U0001f600")


_INTERP: list[tkinter.Tk] = []


def _property_tcl() -> tkinter.Tk:
    if not _INTERP:
        interp = tkinter.Tcl()
        interp.tk.wantobjects(False)
        _INTERP.append(interp)
    return _INTERP[0]


def test_installed_package_carries_the_irules(tmp_path: Path) -> None:
    """setuptools' build_py (what `pip install .` runs) copies the templates into the package as
    real files, and load_irules finds them there with no source tree around."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "irules", src / "irules")
    shutil.copytree(
        REPO / "controller",
        src / "controller",
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    build = tmp_path / "lib"
    subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py"]
        + ["-d", str(build)],
        cwd=src,
        check=True,
        capture_output=True,
    )
    installed = build / "controller" / "irules"
    for name in IRULE_NAMES:
        copied = installed / f"{name}.tcl"
        assert copied.is_file() and not copied.is_symlink()
        assert copied.read_text() == (REPO / "irules" / f"{name}.tcl").read_text()
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    probe = (
        "import controller.run.irules as m; from controller.settings import Settings; "
        "print(m.packaged_dir()); print(sorted(m.load_irules(Settings())))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=elsewhere,
        env={"PYTHONPATH": str(build), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    assert out[0] == str(installed)
    assert out[1] == str(sorted(IRULE_NAMES))


# Commands and syntax newer than Tcl 8.4, which BIG-IP's iRule interpreter is based on: the
# interpreter these tests use (8.6) would accept them, a device would not. The harness
# (tests/support/tcl/f5shim.tcl) refuses the commands, subcommands and options when a rule runs;
# this scan covers what the interpreter parses itself and the code no test happens to run.
NEWER_THAN_TCL_8_4 = {
    "argument expansion {*}": r"\{\*\}",
    "expr operator in/ni": r"[\s(]!?(in|ni)\s",
    "expr operator **": r"\*\*",
    "expr function of 8.5": r"\b(entier|isqrt|min|max|bool)\(",
    "command of 8.5/8.6": (
        r"(^|[\s\[{;])(dict|lassign|lrepeat|lreverse|apply|lmap|try|throw|tailcall|coroutine"
        r"|yield|yieldto|chan|zlib)(?=[\s\]};]|$)"
    ),
    "string subcommand of 8.5/8.6": r"\bstring\s+(reverse|cat|is\s+(list|entier|wideinteger))\b",
    "lsearch/lsort option of 8.5": (
        r"\bl(search|sort)\b[^\n\]]*\s-(index|subindices|nocase|indices|stride|bisect)\b"
    ),
    "switch option of 8.5": r"\bswitch\b[^\n]*\s-(nocase|matchvar|indexvar)\b",
    "return option of 8.5": r"\breturn\s+-(level|options)\b",
    "info subcommand of 8.5/8.6": r"\binfo\s+(frame|coroutine|errorstack|class|object)\b",
}


def code_of(text: str) -> str:
    """The rule without its comment lines: what the interpreter runs."""
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("#"))


@pytest.mark.parametrize("name", IRULE_NAMES)
def test_irules_stay_within_tcl_8_4(name: str) -> None:
    for config in (Settings(), Settings(dns_suffix="example.com", dns_fallback="pass")):
        code = code_of(load_irules(config)[name])
        for what, pattern in NEWER_THAN_TCL_8_4.items():
            found = re.search(pattern, code, flags=re.M)
            assert not found, f"{name} uses {what}: {found.group(0)!r}" if found else ""


@pytest.mark.parametrize(
    "line",
    [
        "set args {*}$list",
        "if {$a in $b} { }",
        "if {!($a ni $b)} { }",
        "set x [expr {2 ** 3}]",
        "set x [expr {min(1, 2)}]",
        "dict set d a 1",
        "lassign $l a b",
        "set x [lreverse $l]",
        "try { } finally { }",
        "set x [lmap y $l {set y}]",
        "set x [string reverse $s]",
        "string is list $s",
        "lsearch -index 0 $l a",
        "lsort -nocase $l",
        "switch -nocase -- $a { }",
        "return -level 2",
        "info frame",
    ],
)
def test_the_tcl_8_4_scan_finds_each_newer_construct(line: str) -> None:
    code = code_of(f"when HTTP_REQUEST priority 500 {{\n    {line}\n}}")
    assert any(re.search(p, code, flags=re.M) for p in NEWER_THAN_TCL_8_4.values()), line


def test_the_tcl_8_4_scan_leaves_8_4_code_alone() -> None:
    code = code_of(
        "if {[string is digit -strict $p] && [lsearch -exact $l $p] >= 0} { }\n"
        "set pinned [info exists x]\nforeach {a b} $l break\nset d dictionary\n"
        'set t [string trimright $x /]\nlog "in the way"\n'
    )
    found = [w for w, p in NEWER_THAN_TCL_8_4.items() if re.search(p, code, flags=re.M)]
    assert found == []


def test_tcl_word_escapes_a_trailing_newline() -> None:
    # Found by hypothesis: a plain-looking value with a trailing newline must not stay bare.
    interp = _property_tcl()
    assert interp.eval(f"set v {tcl_word('0' + chr(10))}") == "0\n"
