"""``panel-tracker annex build|quick`` (contracts: scripts depend on them). Both are
synchronous and write one file.

``build --panel CODE --report ID (--annex N | --annex-id ID) --edition public|committee|panel
--format pdf|docx --out FILE``: one annex of a saved report (by its number or id), or every
annex when neither is given; kept as a build version like a build from the browser.
``quick --panel CODE --case CASE_REF --edition … --format … --out FILE``: one annex of the
item sheets of every item of a case, titled with the case's title (no saved report).

On success one line on stdout: ``wrote FILE (FORMAT, EDITION edition, N pages, B bytes,
sha256 HEX)`` (pages only for PDF), exit 0. An unknown panel, report, annex or case, or bad
options: a message on stderr, exit 2 (as ``items import``). A failure while building: exit 1.
The operator runs at panel clearance; each build is in the panel's audit log.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

annex_cli = click.Group("annex", help="Report annexes: build to PDF or DOCX.")

EDITIONS = click.Choice(["public", "committee", "panel"])
FORMATS = click.Choice(["pdf", "docx"])


def _write(out: Path, data: bytes, fmt: str, edition: str, pages: int) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    pages_text = f"{pages} pages, " if fmt == "pdf" else ""
    click.echo(f"wrote {out} ({fmt}, {edition} edition, {pages_text}{len(data):,} bytes, "
               f"sha256 {hashlib.sha256(data).hexdigest()})")


@annex_cli.command("build")
@click.option("--panel", "panel_code", required=True, help="Code of the panel, e.g. YEM.")
@click.option("--report", "report_id", required=True, type=int, help="Number of the report (its id).")
@click.option("--annex", "annex_number", type=int, help="The annex's number in the report (1, 2, …).")
@click.option("--annex-id", "annex_id", type=int, help="The annex's id.")
@click.option("--edition", required=True, type=EDITIONS)
@click.option("--format", "fmt", required=True, type=FORMATS)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def annex_build(panel_code, report_id, annex_number, annex_id, edition, fmt, out) -> None:
    """Build a report's annex (or all of them) as one PDF or DOCX file."""
    from ..classification import Classification
    from ..cli import fail_usage, panel_or_exit
    from ..db import get_session
    from . import builds, compose
    from .models import BuildFormat, BuildState, Edition, Report

    if annex_number is not None and annex_id is not None:
        fail_usage("give --annex N or --annex-id ID, not both")
    db = get_session()
    panel = panel_or_exit(db, panel_code)
    report = db.get(Report, report_id)
    if report is None or report.panel_id != panel.id:
        fail_usage(f"no report {report_id} in panel {panel.code}")
    annexes = compose.report_annexes(db, report)
    if annex_number is not None:
        found = [a for n, a, _ in annexes if n == annex_number]
        if not found:
            fail_usage(f"report {report_id} has no annex {annex_number} (it has {len(annexes)})")
        annex_id = found[0].id
    elif annex_id is not None and annex_id not in {a.id for _, a, _ in annexes}:
        fail_usage(f"report {report_id} has no annex with id {annex_id}")
    build = builds.request_build(db, panel, report, annex_id, Edition(edition), BuildFormat(fmt), "cli",
                                 Classification.PANEL)
    db.commit()
    builds.run_build(build.id)
    db.expire_all()
    build = db.get(type(build), build.id)
    if build.state != BuildState.DONE:
        click.echo(f"error: the build failed: {build.error}", err=True)
        sys.exit(1)
    _write(out, builds.file_path(panel.code, build).read_bytes(), fmt, edition, build.pages)


@annex_cli.command("quick")
@click.option("--panel", "panel_code", required=True, help="Code of the panel, e.g. YEM.")
@click.option("--case", "case_ref", required=True, help="Reference of the case, e.g. YEM-2024-009.")
@click.option("--edition", required=True, type=EDITIONS)
@click.option("--format", "fmt", required=True, type=FORMATS)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def annex_quick(panel_code, case_ref, edition, fmt, out) -> None:
    """Build one annex of the item sheets of every item of a case (no saved report)."""
    from sqlmodel import select

    from .. import audit
    from ..cases.models import Case
    from ..cli import fail_usage, panel_or_exit
    from ..db import get_session
    from . import builds
    from .models import BuildFormat, Edition

    db = get_session()
    panel = panel_or_exit(db, panel_code)
    case = db.exec(select(Case).where(Case.panel_id == panel.id, Case.ref == case_ref.strip(),
                                      Case.deleted_at.is_(None))).first()
    if case is None:
        fail_usage(f"no case {case_ref!r} in panel {panel.code}")
    document = builds.quick_document(db, panel, case, Edition(edition))
    try:
        data, pages = builds.render(document, panel, BuildFormat(fmt))
    except Exception as exc:  # noqa: BLE001 - the operator sees why, the exit code says it failed
        click.echo(f"error: the build failed: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    audit.record(db, "annex.quick", actor="cli", obj=case, label=f"{case.ref}: {edition} edition, {fmt}",
                 after={"edition": edition, "format": fmt, "sha256": hashlib.sha256(data).hexdigest()},
                 classification=Edition(edition).level)
    db.commit()
    _write(out, data, fmt, edition, pages)


@annex_cli.command("prepare-prints")
@click.option("--panel", "panel_code", required=True, help="Code of the panel, e.g. YEM.")
@with_appcontext
def annex_prepare_prints(panel_code) -> None:
    """Make the print derivatives of every item sheet and photo block of a panel ahead of
    its builds (new photos get theirs when they are put on an item; this fills in the rest)."""
    from sqlmodel import select

    from ..cases.models import Item
    from ..cli import panel_or_exit
    from ..db import get_session
    from . import prints
    from .models import Annex, Block, Report

    db = get_session()
    panel = panel_or_exit(db, panel_code)
    item_ids = list(db.exec(select(Item.id).where(Item.panel_id == panel.id, Item.deleted_at.is_(None))
                            .order_by(Item.id)).all())
    block_ids = list(db.exec(select(Block.id).join(Annex, Annex.id == Block.annex_id)
                             .join(Report, Report.id == Annex.report_id)
                             .where(Block.panel_id == panel.id, Block.kind.in_(prints.PHOTO_BLOCKS),
                                    Report.submitted_at.is_(None))).all())
    made = 0
    with click.progressbar(prints.batches(item_ids, block_ids), label="item sheets", file=sys.stderr) as bar:
        for batch, blocks in bar:
            made += prints.make_prints(panel.id, batch, blocks)
    click.echo(f"made {made} print derivatives for {len(item_ids)} items and {len(block_ids)} blocks")
