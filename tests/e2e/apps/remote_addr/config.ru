# frozen_string_literal: true

# Answers with the client's address as the app sees it (tests/e2e/proxy_protocol_test.rb).
run(->(env) { [200, { 'content-type' => 'text/plain' }, [env['REMOTE_ADDR']]] })
