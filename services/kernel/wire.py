"""Facts of the RPC wire format that both sides share (no nameko or eventlet imports here:
the gateway imports this module).

A platform service writes a successful JSON reply as exactly `{"error":null,"result":<result>}`,
so a caller that only forwards the result (the gateway's hot routes) can slice it out of the
body instead of decoding and re-encoding it. nameko's own replies never start like this (they
put `result` first and use spaces), and a caller falls back to decoding whenever the prefix
is absent.
"""
OK_REPLY_PREFIX = b'{"error":null,"result":'
