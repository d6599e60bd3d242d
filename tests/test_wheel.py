"""The built wheel is a working app: installed into a clean virtualenv and run from another
directory, it migrates, loads the demo and serves a page of every blueprint.

Offline and quick: the wheel is built with the test venv's own setuptools (no build
isolation), installed with ``--no-deps``, and the new venv finds the dependencies through
a ``.pth`` line naming the test venv's site-packages (a plain path: the test venv's own
editable install of the project is not loaded).
"""
from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args, cwd, env, timeout=120):
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A clean venv with the wheel installed; returns (its bin folder, a clean environment)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "panel_tracker", src / "panel_tracker", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "templates", src / "templates")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PANEL_TRACKER_") and k not in ("DATABASE_URL", "REDIS_URL", "FLASK_APP")}
    env["PIP_NO_INDEX"] = "1"  # nothing is downloaded
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp / "dist", src,
         cwd=tmp, env=env)
    (wheel,) = (tmp / "dist").glob("panel_tracker-*.whl")
    venv = tmp / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp, env=env)
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps", "-q", wheel,
         cwd=tmp, env=env)
    site = Path(_run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                     cwd=tmp, env=env).strip())
    (site / "test_venv_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin", env, site


def test_the_installed_wheel_migrates_loads_the_demo_and_serves_every_blueprint(installed, tmp_path):
    bin_dir, env, site = installed
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run(bin_dir / "python", "-c", "import panel_tracker; print(panel_tracker.__file__)", cwd=work, env=env)
    assert where.startswith(str(site)), where  # the wheel, not the source tree
    upgraded = _run(bin_dir / "panel-tracker", "db", "upgrade", cwd=work, env=env)
    assert "database at revision 0" in upgraded, upgraded
    assert "admin@demo.example" in _run(bin_dir / "panel-tracker", "demo", cwd=work, env=env)
    assert (work / "instance" / "panel_tracker.db").is_file()  # ./instance of the working directory
    assert not (site / "instance").exists()

    port = _free_port()
    server = subprocess.Popen([str(bin_dir / "panel-tracker"), "run", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        for _ in range(100):
            try:
                with opener.open(f"{base}/login", timeout=5) as response:
                    login = response.read().decode()
                break
            except urllib.error.URLError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        assert "<form" in login
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
        form = urllib.parse.urlencode({"csrf_token": token, "email": "admin@demo.example",
                                       "password": "demo-admin-password"}).encode()
        with opener.open(f"{base}/login", data=form, timeout=10) as response:
            assert "Panel of Experts on Yemen" in response.read().decode()
        pages = ["/dashboard", "/panels", "/admin/members", "/audit/", "/cases", "/cases/1", "/items",
                 "/photos/1", "/items/export?format=csv"]
        for path in pages:  # main, auth, admin, audit, cases, evidence, exports
            with opener.open(base + path, timeout=10) as response:
                assert response.status == 200, path
        with pytest.raises(urllib.error.HTTPError) as api:  # api: no token, a JSON 401
            opener.open(f"{base}/api/v1/me", timeout=10)
        api.value.close()
        assert api.value.code == 401 and api.value.headers["Content-Type"] == "application/json"
    finally:
        server.terminate()
        server.wait(10)
        server.stderr.close()
