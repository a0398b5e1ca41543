#!/usr/bin/env python3
"""A plain RFC 862 UDP echo service with no loop defence (every datagram back as it came), for lab tests:
python3 udp-echo-service.py ADDRESS PORT"""
import socket
import sys

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.bind((sys.argv[1], int(sys.argv[2])))
    print('listening', flush=True)
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)
