package io.certswap.agent;

import java.security.Provider;

/** The security provider that offers {@link ReloadingKeyManagerFactory}. */
public final class CertswapProvider extends Provider {
    public static final String ALGORITHM = "CertswapReload";
    private static final long serialVersionUID = 1L;

    public CertswapProvider() {
        super("Certswap", "1.0", "certswap: key managers that follow a certswap output directory");
        put("KeyManagerFactory." + ALGORITHM, ReloadingKeyManagerFactory.class.getName());
    }
}
