// The one error a decoder or parser throws for bytes or text it refuses: a datagram, a
// frame, a config or state file, a control message. Each codec's own error (ConfigError,
// NdpError, FrameError, SsdpParseError, AuthError) is one of these, so a caller tells bad
// input (count it, drop it, name it to the user) from a bug in us (let it crash loudly),
// and the property tests can hold every decoder to "refuse with InputError or decode".
export class InputError extends Error {
  name = 'InputError';
}
