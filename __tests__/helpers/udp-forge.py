#!/usr/bin/env python3
"""Sends one UDP datagram with a forged source (IPv4, raw socket, IP_HDRINCL). Lab tests only, inside their own
network namespaces: python3 udp-forge.py SRC_IP SRC_PORT DST_IP DST_PORT PAYLOAD"""
import socket
import struct
import sys

src_ip, src_port, dst_ip, dst_port, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5].encode()
udp = struct.pack('!HHHH', src_port, dst_port, 8 + len(payload), 0) + payload  # UDP checksum 0: none (RFC 768)
# The kernel fills in the total length, the ID and the header checksum for IP_HDRINCL sockets.
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0, socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
    raw.sendto(ip + udp, (dst_ip, 0))
