"""The batch ledger on SQLite and PostgreSQL: acceptance, progress, the running batch's lease
and the take-over of batches whose worker died, replacing a file."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from models.batches import BatchDossier, BatchFile, BatchPlan, BatchState, FileProblem, Stage
from models.errors import NotFoundError
from storage.batches import BatchLedger
from storage.intake import Upload, accept_batch, split_name


def plan(batch_id: str = "B1") -> BatchPlan:
    return BatchPlan(batch_id=batch_id, station="S1", operator="op", dossiers=[
        BatchDossier(name="d", dossier_id="D1", files=[
            BatchFile(file_no=1, dossier="d", name="d/a.png", sha256="a" * 64, size=3),
            BatchFile(file_no=2, dossier="d", name="d/b.png", problem=FileProblem(
                kind="EmptyFileError", message="d/b.png: empty", hint="rescan"))])])


def test_an_accepted_batch_reads_back_as_its_plan_and_status(index):
    ledger = BatchLedger(index)
    ledger.create(plan())
    back = ledger.plan("B1")
    assert [f.name for f in back.files] == ["d/a.png", "d/b.png"]
    assert back.dossiers[0].dossier_id == "D1" and back.files[1].problem.kind == "EmptyFileError"
    status = ledger.status("B1")
    assert status.state == BatchState.queued
    assert [f.stage for f in status.files] == [Stage.queued, Stage.failed]
    assert status.files[1].error == "d/b.png: empty" and status.files[1].hint == "rescan"
    ledger.set_pages("B1", 1, [0, 1], Stage.queued)
    ledger.set_pages("B1", 1, [0], Stage.reading)
    ledger.set_pages("B1", 1, [0, 1], Stage.done)
    pages = ledger.status("B1").files[0].pages
    assert [(p.stage, p.reads) for p in pages] == [(Stage.done, 1), (Stage.done, 0)]
    with pytest.raises(NotFoundError):
        ledger.status("nope")


def test_only_one_run_holds_a_batch_and_a_silent_one_is_taken_over_once(index):
    ledger = BatchLedger(index)
    ledger.create(plan())
    stale = timedelta(seconds=30)
    assert ledger.claim("B1", "run-1", stale, "host:1")
    assert not ledger.claim("B1", "run-2", stale)  # run-1 is beating
    assert ledger.heartbeat("B1", "run-1") and not ledger.heartbeat("B1", "run-2")
    assert ledger.take_over_stale(stale) == []
    # run-1's worker dies: after the stale time exactly one caller takes the batch over.
    assert ledger.take_over_stale(timedelta(seconds=-1)) == [("B1", "run-1")]
    assert ledger.take_over_stale(timedelta(seconds=30)) == []
    assert not ledger.heartbeat("B1", "run-1")  # the old run has lost its lease
    ledger.submitted("B1", "run-3")
    assert ledger.waiting(timedelta(seconds=-1)) == [("B1", "run-3")]
    assert ledger.release("B1", "run-3") and not ledger.release("B1", "run-3")
    assert ledger.claim("B1", "run-4", stale, "host:2")
    ledger.finish("B1", "run-4")
    status = ledger.status("B1")
    assert status.state == BatchState.finished and status.attempts == 2
    assert status.worker == "host:2"
    assert not ledger.claim("B1", "run-5", stale)  # finished: nothing to do


def test_a_replaced_file_joins_its_dossier_and_requeues_the_batch(index, object_store,
                                                                  tmp_path):
    ledger = BatchLedger(index)
    accepted = accept_batch([Upload(name="ho-so/a.png", stream=io.BytesIO(b"png-ish")),
                             Upload(name="lone.pdf", stream=io.BytesIO(b"")),
                             Upload(name="big.tif", stream=io.BytesIO(b"x" * 50))],
                            store=object_store, ledger=ledger, spool_dir=tmp_path / "spool",
                            max_file_bytes=20, station="S1", operator="op")
    by_name = {f.name: f for f in accepted.files}
    assert object_store.get_original(by_name["ho-so/a.png"].sha256) == b"png-ish"
    assert by_name["lone.pdf"].problem.kind == "EmptyFileError"
    assert by_name["big.tif"].problem.kind == "TooLargeError"
    assert "20 bytes" in by_name["big.tif"].problem.message
    assert list((tmp_path / "spool").iterdir()) == []  # spool files are removed
    ledger.claim(accepted.batch_id, "r", timedelta(seconds=30))
    ledger.finish(accepted.batch_id, "r")
    new = ledger.replace_file(accepted.batch_id, by_name["lone.pdf"].file_no,
                              BatchFile(file_no=0, dossier="x", name="lone.pdf", sha256="c" * 64))
    status = ledger.status(accepted.batch_id)
    assert status.state == BatchState.queued
    old = next(f for f in status.files if f.file_no == by_name["lone.pdf"].file_no)
    assert old.replaced_by == new
    assert [f.file_no for f in ledger.plan(accepted.batch_id).files if f.name == "lone.pdf"] \
        == [new]
    with pytest.raises(NotFoundError):
        ledger.replace_file(accepted.batch_id, by_name["lone.pdf"].file_no,
                            BatchFile(file_no=0, dossier="x", name="again.pdf"))


def test_names_become_dossiers():
    assert split_name("ho-so-1/sub/p1.png") == ("ho-so-1", "ho-so-1/sub/p1.png")
    assert split_name("scan.pdf") == ("scan.pdf", "scan.pdf")
    assert split_name("../../etc/passwd") == ("etc", "etc/passwd")
    assert split_name("C:\\\\scans\\\\a.jpg") == ("C:", "C:/scans/a.jpg")


def _accept(ledger, store, tmp_path, uploads, station="S1"):
    return accept_batch(uploads, store=store, ledger=ledger, spool_dir=tmp_path / "spool",
                        max_file_bytes=1000, station=station, operator="op")


def test_dossiers_whose_files_were_all_refused_never_share_an_id(index, object_store, tmp_path):
    """GIVEN two batches from two stations, each with a dossier whose only file was empty
    WHEN both are accepted and each file is replaced THEN the dossiers never had the same id,
    and after the replacements each has the id of its own new content."""
    ledger = BatchLedger(index)
    one = _accept(ledger, object_store, tmp_path, [Upload(name="a/p.png", stream=io.BytesIO())])
    two = _accept(ledger, object_store, tmp_path, [Upload(name="a/p.png", stream=io.BytesIO())],
                  station="S2")
    assert one.dossiers[0].dossier_id != two.dossiers[0].dossier_id
    ledger.replace_file(one.batch_id, 1, BatchFile(file_no=0, dossier="a", name="p.png",
                                                   sha256="1" * 64))
    ledger.replace_file(two.batch_id, 1, BatchFile(file_no=0, dossier="a", name="p.png",
                                                   sha256="2" * 64))
    ids = [ledger.plan(b.batch_id).dossiers[0].dossier_id for b in (one, two)]
    assert ids[0] != ids[1]
    assert ids[0] not in (one.dossiers[0].dossier_id, two.dossiers[0].dossier_id)
    # The same new content is the same dossier, from whichever batch.
    three = _accept(ledger, object_store, tmp_path,
                    [Upload(name="b/x.png", stream=io.BytesIO(b"page"))])
    four = _accept(ledger, object_store, tmp_path, [Upload(name="a/p.png", stream=io.BytesIO())])
    ledger.replace_file(four.batch_id, 1, three.files[0].model_copy())
    assert ledger.plan(four.batch_id).dossiers[0].dossier_id == three.dossiers[0].dossier_id


def test_a_replacement_keeps_its_place_and_a_still_incomplete_dossier_stays_its_batch_own(
        index, object_store, tmp_path):
    ledger = BatchLedger(index)
    got = _accept(ledger, object_store, tmp_path, [
        Upload(name="d/1.png", stream=io.BytesIO(b"one")),
        Upload(name="d/2.png", stream=io.BytesIO()),
        Upload(name="d/3.png", stream=io.BytesIO())])
    before = got.dossiers[0].dossier_id
    new = ledger.replace_file(got.batch_id, 2, BatchFile(file_no=0, dossier="d",
                                                         name="rescan.png", sha256="e" * 64))
    back = ledger.plan(got.batch_id)
    assert [f.file_no for f in back.files] == [1, new, 3]  # in the place of file 2
    assert back.dossiers[0].dossier_id == before  # file 3 is still refused: the batch's own


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 1, 0, 2], [2, 3, 1, 0]])
def test_a_folder_is_the_same_dossier_whatever_order_its_pages_are_sent_in(
        index, object_store, tmp_path, order):
    """GIVEN one folder's pages sent in the order a browser happens to list them
    THEN the files are numbered in natural order of their paths (2 before 10) and the dossier's
    id is the same as for any other order."""
    ledger = BatchLedger(index)
    names = ["ho-so/phu/1.png", "ho-so/trang 2.png", "ho-so/trang 10.png", "ho-so/Trang 11.png"]
    pages = {n: f"content of {n}".encode() for n in names}
    got = _accept(ledger, object_store, tmp_path,
                  [Upload(name=names[i], stream=io.BytesIO(pages[names[i]])) for i in order])
    assert [f.name for f in got.files] == names
    assert [f.file_no for f in got.files] == [1, 2, 3, 4]
    in_order = _accept(ledger, object_store, tmp_path,
                       [Upload(name=n, stream=io.BytesIO(pages[n])) for n in names])
    assert got.dossiers[0].dossier_id == in_order.dossiers[0].dossier_id
    assert [f.name for f in ledger.plan(got.batch_id).files] == names
