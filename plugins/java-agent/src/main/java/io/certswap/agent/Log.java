package io.certswap.agent;

/** One line per event to stderr when CERTSWAP_RELOAD_LOG=stderr; never key material. */
final class Log {
    private static final boolean ENABLED = "stderr".equals(System.getenv("CERTSWAP_RELOAD_LOG"));

    private Log() {}

    static void info(String message) {
        if (ENABLED) {
            System.err.println("certswap-agent: " + message);
        }
    }
}
