"""liboast's feature vector calls (include/oast/features.h) through ctypes, run by test_featureview_cli.py in a
process of its own: fv_liboast.py LIB ADDR KEY PROJECT. Exits non-zero on the first failed check."""

import ctypes
import json
import sys

lib_path, addr, key, project = sys.argv[1:5]


class Err(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 1024)]


lib = ctypes.CDLL(lib_path)
libc = ctypes.CDLL(None)
libc.free.argtypes = [ctypes.c_void_p]
lib.oast_client_new.restype = ctypes.c_void_p
lib.oast_client_new.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
lib.oast_client_free.argtypes = [ctypes.c_void_p]
P = ctypes.POINTER
lib.oast_feature_vectors.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                     P(ctypes.c_void_p), P(Err)]
lib.oast_feature_vector.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                    P(ctypes.c_void_p), P(ctypes.c_void_p), P(Err)]
lib.oast_feature_vector_f64.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
                                        ctypes.c_char_p, P(ctypes.c_double), ctypes.c_size_t, P(ctypes.c_size_t),
                                        P(ctypes.c_int), P(Err)]


def take(ptr):
    s = ctypes.string_at(ptr.value).decode()
    libc.free(ptr)
    return s


def check(cond, what):
    if not cond:
        print("FAILED: " + what)
        sys.exit(1)


c = lib.oast_client_new(addr.encode(), key.encode())
p = project.encode()
e = Err()
out, vec, names = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
rc = lib.oast_feature_vectors(c, p, b"serve", 1, b'[{"uid": 1}, {"uid": 9}]', ctypes.byref(out), ctypes.byref(e))
check(rc == 0, "oast_feature_vectors: %d %s" % (rc, e.msg))
check(json.loads(take(out)) == {"features": ["uid", "age", "cc", "c_gdp"], "vectors": [[1, 31, "se", 1.5], None]},
      "batch answer")
rc = lib.oast_feature_vector(c, p, b"serve", 1, b'{"uid": 2}', ctypes.byref(vec), ctypes.byref(names), ctypes.byref(e))
check(rc == 0 and json.loads(take(vec)) == [2, 40, "xx", None], "one vector")
check(json.loads(take(names)) == ["uid", "age", "cc", "c_gdp"], "names")
rc = lib.oast_feature_vector(c, p, b"serve", 1, b'{"uid": 9}', ctypes.byref(vec), None, ctypes.byref(e))
check(rc == 0 and take(vec) == "null", "unknown entry")
vals = (ctypes.c_double * 8)()
n, found = ctypes.c_size_t(), ctypes.c_int()
rc = lib.oast_feature_vector_f64(c, p, b"nums", 1, b'{"uid": 1}', vals, 8, ctypes.byref(n), ctypes.byref(found),
                                 ctypes.byref(e))
check(rc == 0 and found.value == 1 and list(vals[:n.value]) == [1.0, 31.0, 0.0], "numeric vector %s" % e.msg)
rc = lib.oast_feature_vector_f64(c, p, b"nums", 1, b'{"uid": 99}', vals, 8, ctypes.byref(n), ctypes.byref(found),
                                 ctypes.byref(e))
check(rc == 0 and found.value == 0 and n.value == 0, "numeric vector of an unknown entry")
rc = lib.oast_feature_vector_f64(c, p, b"nums", 1, b'{"uid": 1}', vals, 2, ctypes.byref(n), ctypes.byref(found),
                                 ctypes.byref(e))
check(rc == -8, "a buffer too small is OAST_ETOO_LARGE")
rc = lib.oast_feature_vector_f64(c, p, b"serve", 1, b'{"uid": 1}', vals, 8, ctypes.byref(n), ctypes.byref(found),
                                 ctypes.byref(e))
check(rc == -1 and b'"cc" is not a number' in e.msg, "a string feature in a numeric vector")
rc = lib.oast_feature_vector(c, p, b"serve", 1, b'{"user": 1}', ctypes.byref(vec), None, ctypes.byref(e))
check(rc == -1 and b'"uid" is missing' in e.msg, "the server's 400")
rc = lib.oast_feature_vector(c, p, b"serve", 1, b"[1]", ctypes.byref(vec), None, ctypes.byref(e))
check(rc == -1 and b"JSON object" in e.msg, "a malformed entry")
lib.oast_client_free(c)
print("ok")
