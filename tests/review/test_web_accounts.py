"""Accounts and pages without a browser: Argon2 hashes, slowed-down logins, the Vietnamese
catalogue complete, `dossier user` from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from babel.messages.pofile import read_po

from api.web.accounts import check_password, hash_password, login_wait
from api.web.i18n import LOCALE_DIR, gettext, use_lang

DOSSIER_BIN = Path(sys.executable).parent / "dossier"


def test_passwords_are_argon2_and_checked() -> None:
    h = hash_password("correct horse 1")
    assert h.startswith("$argon2id$") and "correct" not in h
    assert check_password(h, "correct horse 1")
    assert not check_password(h, "correct horse 2")
    assert not check_password(None, "correct horse 1")


def test_failed_logins_wait_longer_each_time() -> None:
    """
    GIVEN failures counted per account and per address
    WHEN there are up to three, then more
    THEN an account's first three cost nothing, an address's first twenty; then the wait
         doubles, capped at five minutes
    """
    now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert login_wait([("user:an", 2, now)], now) == 0
    assert login_wait([("user:an", 3, now)], now) == 1
    assert login_wait([("user:an", 5, now), ("addr:10.0.0.1", 5, now)], now) == 4
    assert login_wait([("user:an", 40, now)], now) == 300
    assert login_wait([("user:an", 5, now - timedelta(seconds=10))], now) == 0
    # An address (an office behind one router) gets more tries before it waits.
    assert login_wait([("addr:10.0.0.1", 19, now)], now) == 0
    assert login_wait([("addr:10.0.0.1", 21, now)], now) == 2


def test_every_message_has_a_vietnamese_translation() -> None:
    """
    GIVEN the message template extracted from the pages
    WHEN the Vietnamese catalogue is read
    THEN every message is translated, and the page language follows the user
    """
    pot = read_po((LOCALE_DIR / "messages.pot").open("rb"))
    vi = read_po((LOCALE_DIR / "vi" / "LC_MESSAGES" / "messages.po").open("rb"))
    untranslated = [m.id for m in pot if m.id and not (vi.get(m.id) and vi.get(m.id).string)]
    assert untranslated == []
    use_lang("vi")
    assert gettext("Review queue") == "Hàng đợi kiểm tra"
    use_lang("en")
    assert gettext("Review queue") == "Review queue"
    assert gettext("needs_review") == "needs review"
    use_lang(None)
    assert gettext("Log in") == "Đăng nhập"


def test_user_commands(tmp_path: Path) -> None:
    """
    GIVEN an empty data dir
    WHEN `dossier user create` reads a password from stdin, then `user list` and
         `user disable` run, and a too-short password is given
    THEN the user is listed with its role, then disabled; the short password is refused
         with exit code 2 and nothing of it is printed
    """
    env = {**os.environ, "DOSSIER_DATA_DIR": str(tmp_path / "data")}

    def run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(DOSSIER_BIN), *args], input=stdin, env=env,
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)

    made = run(["user", "create", "lan", "--role", "reviewer"], "a long password\n")
    assert made.returncode == 0, made.stderr
    assert "a long password" not in made.stdout + made.stderr
    listed = run(["user", "list"])
    assert "lan  reviewer" in listed.stdout and "active" in listed.stdout
    assert run(["user", "disable", "lan"]).returncode == 0
    assert "disabled" in run(["user", "list"]).stdout
    short = run(["user", "create", "mai", "--role", "admin"], "short\n")
    assert short.returncode == 2 and "8 characters" in short.stderr
    assert "short" not in short.stdout
    assert run(["user", "create", "x", "--role", "boss"], "a long password\n").returncode == 2


def test_login_is_slowed_after_failures_and_sessions_are_httponly(tmp_path: Path,
                                                                   object_store) -> None:
    """
    GIVEN the app and two users
    WHEN one account gets three wrong passwords, then the right one at once; and the other
         logs in and out
    THEN the right password is refused with 429 for now; the other gets an HttpOnly,
         SameSite session cookie, its pages open, and after logout they do not
    """
    from fastapi.testclient import TestClient

    from api.app import create_app
    from models.accounts import Role
    from models.settings import Settings
    from storage.index import RecordIndex

    index = RecordIndex(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    index.create_user("an", hash_password("right password"), Role.reviewer)
    index.create_user("chi", hash_password("right password"), Role.reviewer)
    app = create_app(Settings(data_dir=tmp_path, _env_file=None), store=object_store,
                     index=index)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        c.get("/login")
        token = c.cookies["csrftoken"]

        def login(name: str, password: str):
            return c.post("/login", data={"username": name, "password": password,
                                          "csrftoken": token}, follow_redirects=False)

        assert [login("an", "wrong").status_code for _ in range(3)] == [401] * 3
        slowed = login("an", "right password")
        assert slowed.status_code == 429 and "giây" in slowed.text
        ok = login("chi", "right password")
        assert ok.status_code == 303 and ok.headers["location"] == "/review"
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert c.get("/review").status_code == 200
        # The queue's filter form sent with its boxes empty, or a number typed the local way.
        for hours in ("", "2,5", "abc", "-3"):
            assert c.get("/review", params={"batch": "", "doctype": "", "station": "",
                                            "min_age_hours": hours}).status_code == 200
        assert c.post("/logout", data={"csrftoken": token},
                      follow_redirects=False).status_code == 303
        assert c.get("/review", follow_redirects=False).status_code == 303
        # JSON callers get 401, not a redirect.
        assert c.post("/review/x/lease", headers={"x-csrftoken": token,
                                                  "accept": "application/json"}).status_code == 401
    index.close()
