"""LocalStack's Twisted gateway server, bound to the interface given in ``GATEWAY_LISTEN``.

The stock ``twisted`` runtime server (localstack-core 2026.3.0) creates
``TCP4ServerEndpoint(reactor, port)`` without an interface, so ``GATEWAY_LISTEN=127.0.0.1:4566``
still listens on ``0.0.0.0:4566``: an emulator without authentication, reachable from the
network. This subclass passes the host through. Everything else (TLS multiplexing on the same
port, thread pool) is the stock server.
"""

from localstack import config
from localstack.aws.serving.twisted import TLSMultiplexerFactory
from localstack.runtime.server.twisted import TwistedRuntimeServer
from rolo.gateway import Gateway
from rolo.serving.twisted import TwistedGateway
from twisted.internet import endpoints, reactor, ssl


class LoopbackTwistedRuntimeServer(TwistedRuntimeServer):
    def register(self, gateway: Gateway, listen: list[config.HostAndPort], ssl_creds: tuple[str, str] | None = None):
        site = TwistedGateway(gateway)
        if ssl_creds:
            cert_file_name, key_file_name = ssl_creds
            context_factory = ssl.DefaultOpenSSLContextFactory(key_file_name, cert_file_name)
            context_factory.getContext().use_certificate_chain_file(cert_file_name)
            protocol_factory = TLSMultiplexerFactory(context_factory, False, site)
        else:
            protocol_factory = site

        for host_and_port in listen:
            if config.is_ipv6_address(host_and_port.host):
                endpoint = endpoints.TCP6ServerEndpoint(reactor, host_and_port.port, interface=host_and_port.host)
            else:
                endpoint = endpoints.TCP4ServerEndpoint(reactor, host_and_port.port, interface=host_and_port.host)
            endpoint.listen(protocol_factory)
