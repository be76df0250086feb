import pytest

from rfq_pipeline.settings import Settings
from rfq_pipeline.store.object_store import LocalObjectStore, ObjectStoreError, S3ObjectStore, object_store_for


@pytest.fixture(scope="module")
def moto_endpoint():
    """A moto server over real HTTP on loopback, as in production boto3 talks to S3 over HTTP."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _exercise(store) -> None:
    key = "raw/go4worldbusiness/2026-11-20/abc.html.gz"
    assert not store.exists(key)
    with pytest.raises(KeyError):
        store.get(key)
    uri = store.put(key, b"\x1f\x8bpage", content_type="application/gzip")
    assert store.exists(key)
    assert store.get(key) == b"\x1f\x8bpage"
    store.put(key, b"replaced")
    assert store.get(key) == b"replaced"
    store.put("raw/alibaba_rfq/2026-11-20/def.html.gz", b"x")
    assert list(store.list_keys("raw/go4worldbusiness/")) == [key]
    assert len(list(store.list_keys("raw/"))) == 2
    assert uri.endswith(key)
    for bad in ("/abs/key", "../escape", "a/../../b", ""):
        with pytest.raises(ObjectStoreError):
            store.put(bad, b"x")


def test_local_store(tmp_path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    _exercise(store)
    assert not list((tmp_path / "objects").rglob(".tmp-*"))  # atomic writes leave no temporaries


def test_s3_store_against_moto_over_http(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = Settings.from_env(
        {"RFQ_S3_BUCKET_RAW_PAGES": "rfq-raw-pages", "AWS_ENDPOINT_URL": moto_endpoint, "AWS_REGION": "us-east-1"}
    )
    store = object_store_for("raw_pages", settings)
    assert isinstance(store, S3ObjectStore)
    store._client.create_bucket(Bucket="rfq-raw-pages")
    _exercise(store)
    assert store.uri("a/b") == "s3://rfq-raw-pages/a/b"


def test_without_a_bucket_the_store_is_a_local_directory(tmp_path) -> None:
    store = object_store_for("raw_pages", Settings.from_env({"RFQ_DATA_DIR": str(tmp_path)}))
    assert isinstance(store, LocalObjectStore)
    assert store.root == (tmp_path / "objects" / "raw_pages").resolve()
