#!/usr/bin/env python3
"""A TCP relay that records every byte it forwards, both ways, for confidentiality tests.

As a module:
    r = Relay(target_port, record_path)   # listens on 127.0.0.1, a free port: r.port
    r.start(); ...; r.stop(); r.captured() -> bytes of both directions

As a program (to watch a manual session):
    relay.py LISTEN_PORT TARGET_PORT RECORD_FILE

The record file holds one entry per chunk: "C>S" or "S>C", a 4-byte big-endian length and
the bytes, so a test can tell which direction a needle travelled.
"""
import socket
import struct
import sys
import threading


class Relay(threading.Thread):
    def __init__(self, target_port, record_path, listen_port=0, target_host="127.0.0.1"):
        super().__init__(daemon=True)
        self.target = (target_host, target_port)
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", listen_port))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        self.record_path = record_path
        self.rec = open(record_path, "wb")
        self.lock = threading.Lock()
        self.conns = 0
        self.socks = []
        self.stopped = False

    def _write(self, tag, data):
        with self.lock:
            if not self.rec.closed:
                self.rec.write(tag + struct.pack(">I", len(data)) + data)
                self.rec.flush()

    def _pump(self, a, b, tag):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                self._write(tag, d)
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def run(self):
        while not self.stopped:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(self.target, timeout=5)
                s.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += 1
                self.socks += [c, s]
            threading.Thread(target=self._pump, args=(c, s, b"C>S"), daemon=True).start()
            threading.Thread(target=self._pump, args=(s, c, b"S>C"), daemon=True).start()

    def stop(self):
        self.stopped = True
        try:
            self.ls.close()
        except OSError:
            pass
        with self.lock:
            for s in self.socks:
                try:
                    s.close()
                except OSError:
                    pass
            self.rec.close()

    def chunks(self):
        """[(direction, bytes)] as recorded so far."""
        with self.lock:
            if not self.rec.closed:
                self.rec.flush()
        out = []
        with open(self.record_path, "rb") as f:
            data = f.read()
        i = 0
        while i + 7 <= len(data):
            tag = data[i:i + 3].decode()
            (n,) = struct.unpack(">I", data[i + 3:i + 7])
            out.append((tag, data[i + 7:i + 7 + n]))
            i += 7 + n
        return out

    def captured(self, direction=None):
        """One direction's bytes concatenated (both when None): a needle split across two
        chunks of one stream is still found."""
        parts = {}
        for tag, d in self.chunks():
            parts.setdefault(tag, []).append(d)
        if direction is not None:
            return b"".join(parts.get(direction, []))
        return b"".join(parts.get("C>S", [])) + b"\0" * 64 + b"".join(parts.get("S>C", []))


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    r = Relay(int(argv[2]), argv[3], listen_port=int(argv[1]))
    print("relay: 127.0.0.1:%d -> 127.0.0.1:%s, recording to %s" % (r.port, argv[2], argv[3]),
          flush=True)
    r.start()
    try:
        r.join()
    except KeyboardInterrupt:
        r.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
