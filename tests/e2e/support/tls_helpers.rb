# frozen_string_literal: true

require 'openssl'
require 'delegate'
require 'tmpdir'
require 'fileutils'

module E2E
  # TLS for the e2e tests: throwaway certificates, and the client side of the
  # E2E_TLS=1 variant (ctest's e2e_tls.*), which reruns protocol, limit and
  # app tests with the server's default bind on ssl:// so every byte goes
  # through the TLS transport.
  module TLS
    # A CA-less self-signed certificate for 127.0.0.1 and localhost.
    def self.certificate(dir, name, common_name = name)
      key = OpenSSL::PKey::EC.generate('prime256v1')
      cert = OpenSSL::X509::Certificate.new
      cert.version = 2
      cert.serial = rand(1 << 64)
      cert.subject = cert.issuer = OpenSSL::X509::Name.parse("/CN=#{common_name}")
      cert.public_key = key
      cert.not_before = Time.now - 60
      cert.not_after = Time.now + 3600
      extensions = OpenSSL::X509::ExtensionFactory.new(cert, cert)
      cert.add_extension(extensions.create_extension('subjectAltName', 'IP:127.0.0.1,DNS:localhost'))
      cert.add_extension(extensions.create_extension('basicConstraints', 'CA:TRUE', true))
      cert.sign(key, 'SHA256')
      cert_path = File.join(dir, "#{name}.crt")
      key_path = File.join(dir, "#{name}.key")
      File.write(cert_path, cert.to_pem)
      File.write(key_path, key.private_to_pem)
      { cert: cert_path, key: key_path, x509: cert, pkey: key }
    end

    # One server certificate per test process.
    def self.server_certificate
      @server_certificate ||= begin
        dir = Dir.mktmpdir('hyperion-tls-cert')
        Minitest.after_run { FileUtils.rm_rf(dir) }
        certificate(dir, 'server')
      end
    end

    def self.default_bind
      cert = server_certificate
      "ssl://127.0.0.1:0?cert=#{cert[:cert]}&key=#{cert[:key]}"
    end

    # A client context that trusts only the test certificate.
    def self.client_context
      context = OpenSSL::SSL::SSLContext.new
      context.ca_file = server_certificate[:cert]
      context.verify_mode = OpenSSL::SSL::VERIFY_PEER
      context
    end

    # An OpenSSL socket that the tests can use where they use a TCPSocket.
    # Readiness means application data (or the end): the fd also turns
    # readable for TLS records that carry none (a TLS 1.3 session ticket
    # after the handshake), and OpenSSL may hold decrypted bytes the fd no
    # longer shows (a read returns one record at a time). So wait_readable
    # reads ahead into a buffer that the reads then serve first.
    class Socket < SimpleDelegator
      # Handshakes over a connected TCP socket (closed if that fails).
      def self.wrap(tcp, context: TLS.client_context)
        ssl = OpenSSL::SSL::SSLSocket.new(tcp, context)
        ssl.sync_close = true
        ssl.connect
        new(ssl)
      rescue StandardError
        tcp.close
        raise
      end

      def initialize(ssl)
        super
        @ahead = +''.b
        @eof = false
      end

      def wait_readable(timeout = nil)
        deadline = timeout && Time.now + timeout
        loop do
          return self if !@ahead.empty? || @eof

          if __getobj__.pending.zero?
            left = deadline && deadline - Time.now
            return nil if left && left <= 0
            return nil unless __getobj__.to_io.wait_readable(left)
          end
          case (chunk = __getobj__.read_nonblock(65_536, exception: false))
          when nil then @eof = true
          when String then @ahead << chunk
          end
        end
      rescue *E2E::CONNECTION_ENDED
        @eof = true
        self
      end

      def read_nonblock(length, buffer = nil, exception: true)
        return deliver(length, buffer) unless @ahead.empty?
        return (exception ? raise(EOFError) : nil) if @eof

        __getobj__.read_nonblock(length, buffer, exception: exception)
      end

      def readpartial(length, buffer = nil)
        return deliver(length, buffer) unless @ahead.empty?
        raise EOFError if @eof

        __getobj__.readpartial(length, buffer)
      end

      def wait_writable(timeout = nil) = __getobj__.to_io.wait_writable(timeout) && self

      # TLS has no half-close: close_notify, then the TCP FIN.
      def close_write
        __getobj__.send(:stop) rescue nil # rubocop:disable Style/RescueModifier
        __getobj__.to_io.shutdown(::Socket::SHUT_WR)
      end

      def setsockopt(*args) = __getobj__.to_io.setsockopt(*args)

      private

      def deliver(length, buffer)
        out = @ahead.slice!(0, length)
        buffer ? buffer.replace(out) : out
      end
    end
  end
end
