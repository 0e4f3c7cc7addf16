"""Seraph's libnewrelic from Python through ctypes: the C ABI needs no
binding generator. Reads the same environment as the C examples
(NEW_RELIC_LICENSE_KEY, NEW_RELIC_APP_NAME, NEW_RELIC_DAEMON_SOCKET,
NEW_RELIC_HOST) and LIBNEWRELIC, the path of libnewrelic.so."""

import ctypes
import os
import sys
import time

lib = ctypes.CDLL(os.environ.get("LIBNEWRELIC", "libnewrelic.so"))


class DatastoreReporting(ctypes.Structure):
    _fields_ = [("enabled", ctypes.c_bool), ("record_sql", ctypes.c_int),
                ("threshold_us", ctypes.c_uint64)]


class TransactionTracer(ctypes.Structure):
    _fields_ = [("enabled", ctypes.c_bool), ("threshold", ctypes.c_int),
                ("duration_us", ctypes.c_uint64),
                ("stack_trace_threshold_us", ctypes.c_uint64),
                ("datastore_reporting", DatastoreReporting)]


class AppConfig(ctypes.Structure):
    _fields_ = [("app_name", ctypes.c_char * 255),
                ("license_key", ctypes.c_char * 255),
                ("redirect_collector", ctypes.c_char * 100),
                ("log_filename", ctypes.c_char * 512),
                ("log_level", ctypes.c_int),
                ("transaction_tracer", TransactionTracer),
                ("instance_reporting", ctypes.c_bool),
                ("database_name_reporting", ctypes.c_bool),
                ("distributed_tracing_enabled", ctypes.c_bool),
                ("span_events_enabled", ctypes.c_bool)]


lib.newrelic_init.argtypes = [ctypes.c_char_p, ctypes.c_int]
lib.newrelic_init.restype = ctypes.c_bool
lib.newrelic_create_app_config.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
lib.newrelic_create_app_config.restype = ctypes.POINTER(AppConfig)
lib.newrelic_destroy_app_config.argtypes = [ctypes.POINTER(ctypes.POINTER(AppConfig))]
lib.newrelic_create_app.argtypes = [ctypes.POINTER(AppConfig), ctypes.c_ushort]
lib.newrelic_create_app.restype = ctypes.c_void_p
lib.newrelic_start_non_web_transaction.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
lib.newrelic_start_non_web_transaction.restype = ctypes.c_void_p
lib.newrelic_add_attribute_string.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
lib.newrelic_add_attribute_string.restype = ctypes.c_bool
lib.newrelic_start_segment.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
lib.newrelic_start_segment.restype = ctypes.c_void_p
lib.newrelic_end_segment.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
lib.newrelic_end_segment.restype = ctypes.c_bool
lib.newrelic_end_transaction.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
lib.newrelic_end_transaction.restype = ctypes.c_bool
lib.newrelic_destroy_app.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
lib.newrelic_destroy_app.restype = ctypes.c_bool
lib.newrelic_version.restype = ctypes.c_char_p


def main():
    print("libnewrelic", lib.newrelic_version().decode())
    socket = os.environ.get("NEW_RELIC_DAEMON_SOCKET")
    if not lib.newrelic_init(socket.encode() if socket else None, 1000):
        sys.exit("newrelic_init failed: is the daemon running?")
    config = lib.newrelic_create_app_config(
        os.environ.get("NEW_RELIC_APP_NAME", "Seraph Python ctypes").encode(),
        os.environ["NEW_RELIC_LICENSE_KEY"].encode())
    if not config:
        sys.exit("bad license key")
    host = os.environ.get("NEW_RELIC_HOST")
    if host:
        config.contents.redirect_collector = host.encode()
    app = ctypes.c_void_p(lib.newrelic_create_app(config, 10000))
    lib.newrelic_destroy_app_config(ctypes.byref(config))
    if not app:
        sys.exit("the application did not connect")

    txn = ctypes.c_void_p(lib.newrelic_start_non_web_transaction(app, b"python-job"))
    lib.newrelic_add_attribute_string(txn, b"language", b"python")
    seg = ctypes.c_void_p(lib.newrelic_start_segment(txn, b"sleep", b"Python"))
    time.sleep(0.01)
    ok = lib.newrelic_end_segment(txn, ctypes.byref(seg))
    ok = lib.newrelic_end_transaction(ctypes.byref(txn)) and ok
    lib.newrelic_destroy_app(ctypes.byref(app))
    print("python ctypes example:", "sent" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
