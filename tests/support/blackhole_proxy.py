#!/usr/bin/env python3
"""A TCP proxy a test controls, to cut a network path without a FIN.

    blackhole_proxy.py LISTEN_PORT TARGET_PORT     (both on 127.0.0.1)

Forwards every connection to the target until it gets SIGUSR1 ("cut"): from then on nothing is
forwarded in either direction, yet no socket is closed — exactly what a peer sees when a cable
is pulled or a firewall starts dropping packets (the kernel still ACKs, so keepalives alone do
not notice). New connections are accepted and held silent. SIGUSR2 ("heal") forwards new
connections again; the connections that were cut stay dead, as they would after a real cut.
Prints "ready" once listening.
"""
import signal
import socket
import sys
import threading

generation = 0  # bumped by every cut; a connection forwards only while it matches
cut = False
held = []  # sockets kept open and silent
lock = threading.Lock()


def on_cut(*_):
    global cut, generation
    with lock:
        cut = True
        generation += 1


def on_heal(*_):
    global cut
    with lock:
        cut = False


def pump(src, dst, born):
    while True:
        try:
            data = src.recv(65536)
        except OSError:
            return
        if generation != born:
            # Cut: swallow this and everything after it, close nothing.
            threading.Event().wait()
        if not data:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        try:
            dst.sendall(data)
        except OSError:
            return


def main():
    listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
    signal.signal(signal.SIGUSR1, on_cut)
    signal.signal(signal.SIGUSR2, on_heal)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen_port))
    server.listen(128)
    print("ready", flush=True)
    while True:
        try:
            client, _ = server.accept()
        except InterruptedError:
            continue
        with lock:
            if cut:
                held.append(client)
                continue
            born = generation
        try:
            upstream = socket.create_connection(("127.0.0.1", target_port))
        except OSError:
            client.close()
            continue
        held.extend([client, upstream])
        threading.Thread(target=pump, args=(client, upstream, born), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, born), daemon=True).start()


if __name__ == "__main__":
    main()
