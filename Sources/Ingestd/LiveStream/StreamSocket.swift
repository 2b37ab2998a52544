import NIOCore
import NIOWebSocket
import Synchronization

/// One `/v1/stream` client's socket: its messages written as WebSocket text frames on the
/// connection's event loop, in the order handed over, and a count of those not yet on the socket.
///
/// The fan-out writes here rather than through the WebSocket library's async writer, which costs
/// one Swift task wake-up and one hop to the event loop per client and message: fanning one event
/// out to 1,000 clients on this 2-core machine, that path cost the daemon 38–42 ms of CPU and this
/// one 31–33 ms (`scripts/stream-fanout.sh`, the reload's ≈ 8 ms included). The message is one
/// buffer shared by every client.
/// Handshake, reading, pings and the close handshake stay with hummingbird-websocket; the frames
/// it writes (pong, close) go through the same channel, so they keep their order with these.
final class StreamSocket: Sendable {
    private let channel: any Channel
    private let pending = Atomic<Int>(0)

    init(channel: any Channel) { self.channel = channel }

    /// Messages handed over and not yet written to the socket (or failed with it).
    var unwritten: Int { pending.load(ordering: .relaxed) }

    /// Queues `message` behind every one handed over before it; never waits.
    func write(_ message: ByteBuffer) {
        pending.add(1, ordering: .relaxed)
        // Always through the loop's task queue, even on the loop: it is FIFO, so a message handed
        // over first is written first whichever thread hands it over.
        channel.eventLoop.execute { [self] in
            let written = channel.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenComplete { [self] _ in pending.subtract(1, ordering: .relaxed) }
            channel.writeAndFlush(Self.frame(message), promise: written)
        }
    }

    /// Queues `messages` like `write` and returns once the last is on the socket: the replay of a
    /// reconnecting client goes as fast as it reads, not into its queue. Cancelled (the client fell
    /// behind, or the daemon stops) while a client that stopped reading holds it up, it closes the
    /// connection: nothing else would end the wait, and no close frame could pass the unread data.
    func writeAndWait(_ messages: [ByteBuffer]) async throws {
        guard let last = messages.last else { return }
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.eventLoop.execute { [channel] in
            for m in messages.dropLast() { channel.write(Self.frame(m), promise: nil) }
            channel.writeAndFlush(Self.frame(last), promise: written)
        }
        try await withTaskCancellationHandler {
            try await written.futureResult.get()
        } onCancel: { [channel] in
            channel.close(promise: nil)
        }
    }

    private static func frame(_ message: ByteBuffer) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: .text, data: message)
    }
}
