# A virtual USB numeric keypad made through /dev/uinput, for test/helpers/virtual-keypad.ts. Uses the legacy
# uinput_user_dev setup and fcntl.ioctl, so it needs only Python's standard library. Prints "ready" once the device
# exists, then writes each struct input_event read from stdin to it, each followed by a SYN_REPORT (the kernel hands
# events to readers at a SYN). Destroys the device at the end of stdin.
import fcntl
import os
import struct
import sys

UI_SET_EVBIT = 0x40045564  # _IOW('U', 100, int)
UI_SET_KEYBIT = 0x40045565  # _IOW('U', 101, int)
UI_DEV_CREATE = 0x5501  # _IO('U', 1)
UI_DEV_DESTROY = 0x5502  # _IO('U', 2)
EV_KEY = 1
EVENT = 'llHHi'  # struct input_event: struct timeval, u16 type, u16 code, s32 value
EVENT_SIZE = struct.calcsize(EVENT)
SYN_REPORT = struct.pack(EVENT, 0, 0, 0, 0, 0)

fd = os.open('/dev/uinput', os.O_WRONLY)
fcntl.ioctl(fd, UI_SET_EVBIT, EV_KEY)
for code in range(1, 128):
    fcntl.ioctl(fd, UI_SET_KEYBIT, code)
# struct uinput_user_dev: char name[80]; struct input_id (bustype USB, vendor, product, version); u32 ff_effects_max;
# s32 absmax[64], absmin[64], absfuzz[64], absflat[64]
os.write(fd, struct.pack('80sHHHHI', sys.argv[1].encode(), 0x03, 0x05A4, 0x9840, 0x0110, 0) + bytes(4 * 64 * 4))
fcntl.ioctl(fd, UI_DEV_CREATE)
print('ready', flush=True)

pending = b''
while True:
    chunk = os.read(sys.stdin.fileno(), 4096)
    if not chunk:
        break
    pending += chunk
    while len(pending) >= EVENT_SIZE:
        os.write(fd, pending[:EVENT_SIZE] + SYN_REPORT)
        pending = pending[EVENT_SIZE:]

fcntl.ioctl(fd, UI_DEV_DESTROY)
os.close(fd)
