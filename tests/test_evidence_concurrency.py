"""Ten experts upload the same photo at the same moment, to a real threaded server."""
from __future__ import annotations

import http.client
import threading
import uuid

from sqlmodel import select

from panel_tracker.cases.services import create_case
from panel_tracker.db import get_session
from panel_tracker.evidence.models import Photo, PhotoReceipt
from tests.imagefactory import photographic_jpeg

UPLOADS = 10




def _multipart(fields: dict[str, str], name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
             for key, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                 f"Content-Type: image/jpeg\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_ten_simultaneous_uploads_of_the_same_photo_each_get_their_receipt(world, live_port, tmp_path):
    db = get_session()
    case = create_case(db, world.panel, {"ref": "YEM-2024-017", "title": "Depot visit"}, world.users["expert"])
    db.commit()
    photo = photographic_jpeg(tmp_path / "IMG_0001.JPG", 640, 480).read_bytes()
    cookie = world.client("expert").get_cookie("session", domain="localhost")
    start = threading.Barrier(UPLOADS)
    answers: list[int | str] = [None] * UPLOADS

    def upload(number: int) -> None:
        body, content_type = _multipart({"source": f"Source {number}", "is_original": "yes", "item_id": ""},
                                        f"copy-{number}.jpg", photo)
        connection = http.client.HTTPConnection("127.0.0.1", live_port, timeout=60)
        try:
            start.wait()
            connection.request("POST", f"/cases/{case.id}/photos/upload", body=body,
                               headers={"Host": "localhost", "Content-Type": content_type,
                                        "Cookie": f"session={cookie.value}"})
            response = connection.getresponse()
            response.read()
            answers[number] = response.status
        except Exception as exc:  # the assertion below shows it
            answers[number] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(UPLOADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)

    assert answers == [302] * UPLOADS  # each upload accepted: back to the case page
    db.expire_all()
    (stored,) = db.exec(select(Photo)).all()  # one photo
    receipts = db.exec(select(PhotoReceipt).order_by(PhotoReceipt.id)).all()
    assert sorted(r.source for r in receipts) == sorted(f"Source {n}" for n in range(UPLOADS))  # none lost
    first, *others = receipts
    assert first.duplicate_of_id is None and first.photo_id == stored.id
    assert all(r.duplicate_of_id == first.id and r.photo_id == stored.id for r in others)  # not independent
