# Independent computation of the Ed25519 keys and signatures pinned in
# crates/sverka-model/tests/submissions.rs, with Python `cryptography` (OpenSSL's Ed25519, not
# ed25519-dalek). The payload bytes below are typed by hand from docs/formats.md, not printed by
# sverka. Run: python3 pin_submissions.py
import base64, hashlib
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

def key(n):
    return Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32)

def pub(n):
    raw = key(n).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()

for n, name in [(1, "box-1001"), (2, "op-d1"), (3, "cec"), (4, "obs-1"), (6, "op-d2")]:
    print(name, pub(n))

CTX = b"sverka/submission/v1\n"
payloads = {
 "machine": (1, '{"contest":"smd-d1","election":"tiny","lines":{"ballots_received":1200,"cancelled":470,"in_portable_boxes":20,"in_stationary_boxes":708,"invalid":8,"issued_early":10,"issued_in_room":700,"issued_outside":20,"lost":0,"registered":1200,"unaccounted":0,"valid":720},"seq":1,"signer":"box-1001","source":"machine","station":"1001","type":"protocol","v":1,"votes":{"against_all":40,"d1-a":300,"d1-b":250,"d1-c":130}}'),
 "correction": (2, '{"contest":"list","election":"tiny","lines":{"ballots_received":900,"cancelled":300,"in_portable_boxes":0,"in_stationary_boxes":600,"invalid":10,"issued_early":0,"issued_in_room":600,"issued_outside":0,"lost":0,"registered":900,"unaccounted":0,"valid":590},"preferences":{"river":{"river-2":80,"river-5":20},"sun":{"sun-1":150,"sun-2":120}},"scan_sha256":"' + hashlib.sha256(b"scan of protocol 1002/list").hexdigest() + '","seq":7,"signer":"op-d1","source":"manual","station":"1002","supersedes":{"index":12,"reason":"keying_error"},"time":"2026-03-01T21:04:05+06:00","type":"protocol","v":1,"votes":{"against_all":30,"mountain":60,"river":200,"sun":300}}'),
 "annulment": (3, '{"election":"tiny","reason":"Решение ЦИК № 12 от 2 марта: \\"акт\\"\\nприложен","seq":1,"signer":"cec","station":"9002","type":"annulment","v":1}'),
 "registration": (3, '{"election":"tiny","key":{"district":"d1","id":"op-d1-spare","public_key":"' + pub(5) + '","role":"operator"},"seq":2,"signer":"cec","type":"key_registration","v":1}'),
}
for name, (n, p) in payloads.items():
    sig = key(n).sign(CTX + p.encode())
    print(name, "sig", base64.b64encode(sig).decode())
    print(name, "payload", p)
print("scan", hashlib.sha256(b"scan of protocol 1002/list").hexdigest())
print("pub5", pub(5))
