// A booking may name the doors it opens (`bookings[].doors`). The ids are the gateway's (`main` and its
// `hardware.doors`), which the policy alone cannot know: decide() matches them against the door tapped at, and the
// gateway checks a policy it is sent against the doors it has.

/** Whether a booking opens this door: one naming no doors opens every one; one naming doors, only at a door it names. */
export function bookingOpensDoor(booking: { readonly doors?: readonly string[] | undefined }, door: string | undefined): boolean {
  return booking.doors === undefined || (door !== undefined && booking.doors.includes(door));
}

/**
 * One `bookings[i].doors[j]: …` line for each door a booking names that the branch does not have: central publishes
 * one policy per branch, so such a door is most likely a typo, which would otherwise open nothing and tell nobody.
 */
export function unknownBookingDoors(policy: { readonly bookings: ReadonlyArray<{ readonly doors?: readonly string[] | undefined }> }, doors: readonly string[]): string[] {
  const have = new Set(doors);
  return policy.bookings.flatMap((booking, i) =>
    (booking.doors ?? []).flatMap((door, j) =>
      have.has(door) ? [] : [`bookings[${i}].doors[${j}]: no door "${door}" at this branch (doors: ${doors.join(', ')})`],
    ),
  );
}
