/*
 * Starts AWS DynamoDB Local bound to one address (127.0.0.1 by default) instead of every interface.
 *
 * DynamoDB Local has no bind-address option: its DynamoDBProxyServer builds a Jetty Server(port), whose connector
 * listens on the wildcard address. This launcher builds the server exactly as DynamoDB Local's own main does
 * (ServerRunner.createServerFromCommandLineArgs), then, before starting it, sets the host of every Jetty connector
 * (-Dlab.bind.host, default 127.0.0.1) and, when -Dlab.bind.port is given, its port (0: the kernel picks a free
 * one; DynamoDB Local's own -port refuses 0). Once listening it prints one JSON line {"port": N} (or
 * {"error": CODE, "message": ...}) on stdout, like core/emulator/server.js.
 * Telemetry is never configured here (the lab always passes -disableTelemetry as well).
 * Everything is reached by reflection, so this compiles with the JDK alone; DynamoDB Local is on the runtime
 * classpath (-cp DynamoDBLocal.jar:<this jar>).
 */
import java.lang.reflect.Field;
import java.lang.reflect.Method;

public final class LoopbackDynamoDBLocal {
    private LoopbackDynamoDBLocal() {}

    public static void main(String[] args) {
        String host = System.getProperty("lab.bind.host", "127.0.0.1");
        String port = System.getProperty("lab.bind.port");
        Object proxy;
        Object jetty;
        try {
            String local = "software.amazon.dynamodb.services.local.main.";
            Class<?> inputClass = Class.forName(local + "CommandLineInput");
            Object input = inputClass.getConstructor(String[].class).newInstance((Object) args);
            if (!(Boolean) inputClass.getMethod("init").invoke(input)) {
                return;  // -help or -version: DynamoDB Local printed it
            }
            proxy = Class.forName(local + "ServerRunner").getMethod("createServer", inputClass).invoke(null, input);
            Field field = proxy.getClass().getDeclaredField("server");
            field.setAccessible(true);
            jetty = field.get(proxy);
            Object[] connectors = (Object[]) jetty.getClass().getMethod("getConnectors").invoke(jetty);
            if (connectors.length == 0) {
                fail("NO_CONNECTOR", "DynamoDB Local built a server without a connector");
            }
            for (Object connector : connectors) {
                connector.getClass().getMethod("setHost", String.class).invoke(connector, host);
                if (port != null) {
                    connector.getClass().getMethod("setPort", int.class).invoke(connector, Integer.parseInt(port));
                }
            }
        } catch (ReflectiveOperationException | ClassCastException | NumberFormatException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            fail("INCOMPATIBLE", "this DynamoDB Local cannot be bound to " + host + ": " + cause);
            return;
        }
        try {
            proxy.getClass().getMethod("start").invoke(proxy);
            Object[] connectors = (Object[]) jetty.getClass().getMethod("getConnectors").invoke(jetty);
            Method localPort = connectors[0].getClass().getMethod("getLocalPort");
            System.out.println("{\"port\": " + localPort.invoke(connectors[0]) + "}");
            System.out.flush();
        } catch (Exception e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            boolean inUse = false;
            for (Throwable t = cause; t != null; t = t.getCause()) {
                inUse |= t instanceof java.net.BindException || String.valueOf(t.getMessage()).contains("in use");
            }
            fail(inUse ? "EADDRINUSE" : "START_FAILED", String.valueOf(cause));
        }
    }

    private static void fail(String code, String message) {
        String quoted = message.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ");
        System.out.println("{\"error\": \"" + code + "\", \"message\": \"" + quoted + "\"}");
        System.out.flush();
        System.exit(3);
    }
}
