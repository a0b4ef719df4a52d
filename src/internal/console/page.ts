/**
 * The development admin's console, its page (placeholder until the page step).
 *
 * @internal
 */
export const page = "<!doctype html><title>console</title>"
