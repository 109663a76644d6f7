// Loads the stores a client.properties names, the way Kafka's Java client
// does (KeyStore.getInstance(ssl.*.type), then load(stream, password)), and
// prints one line per entry: "trusted <subject>" or "key <subject>".
// Usage: java TruststoreCheck.java <client.properties>
import java.io.FileInputStream;
import java.io.InputStream;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.Collections;
import java.util.Properties;

public class TruststoreCheck {
  static void list(Properties p, String prefix) throws Exception {
    KeyStore store = KeyStore.getInstance(p.getProperty(prefix + ".type"));
    try (InputStream in = new FileInputStream(p.getProperty(prefix + ".location"))) {
      store.load(in, p.getProperty(prefix + ".password").toCharArray());
    }
    for (String alias : Collections.list(store.aliases())) {
      X509Certificate cert = (X509Certificate) store.getCertificate(alias);
      String kind = store.isKeyEntry(alias) ? "key" : "trusted";
      System.out.println(kind + " " + cert.getSubjectX500Principal().getName());
    }
  }

  public static void main(String[] args) throws Exception {
    Properties p = new Properties();
    try (InputStream in = new FileInputStream(args[0])) {
      p.load(in);
    }
    list(p, "ssl.truststore");
    list(p, "ssl.keystore");
  }
}
