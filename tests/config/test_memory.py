"""config.memory: the cycle collector paused around bulk work, and given back."""

import gc

import pytest

from config.memory import collector_paused


def test_the_collector_is_paused_in_the_block_and_running_after_it():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_nested_block_leaves_the_collector_to_the_outermost():
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_runs_again_when_the_block_raises():
    with pytest.raises(ValueError, match="bad row"), collector_paused():
        raise ValueError("bad row")
    assert gc.isenabled()


def test_a_decorated_function_pauses_it_at_each_call():
    seen = []

    @collector_paused()
    def read():
        seen.append(gc.isenabled())

    read()
    read()
    assert seen == [False, False]
    assert gc.isenabled()


def test_reading_an_upload_and_building_the_zip_table_pause_it(monkeypatch):
    from bulk.spreadsheets import upload
    from quotes import addresses

    seen = {}
    real_layout = upload.find_layout

    def layout(*args, **kwargs):
        seen["parse"] = gc.isenabled()
        return real_layout(*args, **kwargs)

    monkeypatch.setattr(upload, "find_layout", layout)
    upload.parse_upload(b"Address,City,State,ZIP\n1 Main St,Boston,MA,02108\n")
    assert seen == {"parse": False}
    addresses.zip_table.cache_clear()
    monkeypatch.setattr(
        addresses.zipcodes, "similar_to", lambda _: [seen.setdefault("table", gc.isenabled())][1:]
    )
    addresses.zip_table()
    addresses.zip_table.cache_clear()
    assert seen["table"] is False
    assert gc.isenabled()
