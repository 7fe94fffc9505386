// Whether the clock is trusted, and by what: the same probes the gateway runs every 30 s (core/clock-trust.ts).
import { createClockTrust, type ClockProbeIo } from '../core/clock-trust.js';
import type { GatewayConfig } from '../config.js';
import { fail, ok, type Finding } from './findings.js';

const FIX: Record<GatewayConfig['clock']['trust'], string> = {
  auto: 'start a time source: sudo timedatectl set-ntp true (systemd-timesyncd), or chrony, or fit an RTC; members are refused until one vouches (rules.clockUntrusted)',
  timesyncd: 'start systemd-timesyncd and let it reach an NTP server: sudo timedatectl set-ntp true; timedatectl timesync-status',
  chrony: 'start chrony and let it reach a source: sudo systemctl start chrony; chronyc sources',
  ntp: 'start ntpd or ntpsec and let it reach a server (ntpq -p), or use systemd-timesyncd with clock.trust: auto',
  rtc: 'set the RTC from a good clock (sudo hwclock --systohc), check its battery, and reboot',
  trusted: '',
  untrusted: 'clock.trust: untrusted is for tests: set clock.trust: auto',
};

export async function checkClock(config: GatewayConfig, io?: ClockProbeIo): Promise<Finding[]> {
  const reading = await createClockTrust(config.clock, io).refresh();
  const source = reading.detail.includes('clock.trust') ? '' : ` (clock.trust: ${config.clock.trust})`;
  return reading.trusted
    ? [ok('clock.trusted', 'clock', `the clock is trusted: ${reading.detail}${source}`)]
    : [fail('clock.trusted', 'clock', `the clock is not trusted: ${reading.detail}${source}`, FIX[config.clock.trust])];
}
