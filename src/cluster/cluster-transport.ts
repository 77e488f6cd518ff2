// The datagram transport of a cluster node's DTLS connector (cluster.md §3, §4): the DTLS socket and the
// management socket. Records carrying another node's CID are forwarded before anything is decrypted;
// forwarded records enter the connector as "from client A via router R"; records of routed
// connections go back through their router (backward mode) or straight to the client (direct mode).
import type { Logger } from 'pino';
import { cidNodeId } from '../dtls/record.js';
import type { PeerAddress } from '../transport/connector.js';
import { bindUdpSocket, type DatagramHandler, type DatagramTransport, type SendDone, type UdpTransportOptions } from '../transport/datagram.js';
import type dgram from 'node:dgram';
import { CLUSTER_MAC_LENGTH, decodeClusterPacket, encodeClusterPacket, RECORD_TYPE_INCOMING, RECORD_TYPE_OUTGOING } from './header.js';
import { verifyClusterMac, writeClusterMac } from './mac.js';
import type { MgmtChannel } from './mgmt-channel.js';
import { staticResolver, type NodeResolver } from './resolver.js';
import { createClusterStats, type ClusterStats } from './stats.js';


/** Settings of a cluster transport. */
export interface ClusterTransportOptions {
  /** the DTLS (client traffic) socket */
  dtls: UdpTransportOptions;
  /** the management socket */
  mgmt: UdpTransportOptions;
  nodeId: number;
  /** answers of routed connections go back through the receiving node (default true) */
  backward: boolean;
  /** protect forwarding headers with the cluster MAC (needs a secure channel) */
  mac: boolean;
  /** other nodes' management addresses */
  resolver: NodeResolver;
  /**
   * A worker of a cluster node (issue 13): CID byte 1 names the worker. Records of this node for another worker go
   * to it over a loopback socket; the workers share the node's public and management ports (SO_REUSEPORT).
   */
  worker?: WorkerRole;
  logger?: Logger;
}

/** This process as one of several workers of a cluster node (issue 13). */
export interface WorkerRole {
  index: number;
  /** the loopback socket the node's workers hand records to each other on */
  socket: UdpTransportOptions;
  /**
   * The node's management channel and manager run in worker 0 alone (dynamic and k8s modes: other nodes know the
   * node by one management address, and its node table and MAC keys live in one place). A relaying worker binds no
   * management socket: records for other nodes and backward answers go through worker 0's loopback socket.
   */
  relay?: boolean;
}

/** The worker that runs the management channel of a node whose other workers relay (WorkerRole.relay). */
export const MANAGING_WORKER = 0;

/** The two sockets of a cluster node, as one DatagramTransport for its DTLS connector. */
export class ClusterTransport implements DatagramTransport {
  readonly localAddress: string;
  /** health counters (cluster.md §4.5) of the current period */
  readonly stats: ClusterStats = createClusterStats();
  onDatagram: DatagramHandler = () => {};
  /** management channel of the dynamic/k8s modes (set before start) */
  channel: MgmtChannel | undefined;
  /** resolver of other nodes (a manager may replace the initial one before start) */
  resolver: NodeResolver;
  /**
   * The shared connection store's router (issue 12, store/failover.ts): sees every client record with a CID first and
   * handles those of connections taken over (forward to the new owner, or here) and of nodes that are gone.
   */
  cidRouter: { route(record: Buffer, nodeId: number, client: PeerAddress, router?: PeerAddress): boolean } | undefined;
  /** a worker of a cluster node: the other workers' loopback sockets by worker index (replaced by the management table) */
  workerResolver: NodeResolver = staticResolver(new Map());
  private dtlsSocket: dgram.Socket | undefined;
  private mgmtSocket: dgram.Socket | undefined;
  private workerSocket: dgram.Socket | undefined;
  private workerPortValue = 0;
  private dtlsPort: number;
  private mgmtPortValue: number;
  private readonly macLength: number;
  private readonly o: ClusterTransportOptions;
  private readonly countMgmtSendError = (err: Error | null): void => {
    if (err) this.stats['drop forward']++;
  };

  constructor(o: ClusterTransportOptions) {
    this.o = o;
    this.localAddress = o.dtls.address;
    this.dtlsPort = o.dtls.port;
    // a relaying worker has no management socket (port 0)
    this.mgmtPortValue = o.worker?.relay === true ? 0 : o.mgmt.port;
    this.macLength = o.mac ? CLUSTER_MAC_LENGTH : 0;
    this.resolver = o.resolver;
  }

  get localPort(): number {
    return this.dtlsPort;
  }

  /** Bound management port (0 in a relaying worker: WorkerRole.relay). */
  get mgmtPort(): number {
    return this.mgmtPortValue;
  }

  /** A worker without management socket that relays through worker 0 (WorkerRole.relay). */
  get relaying(): boolean {
    return this.o.worker?.relay === true;
  }

  /** Bound port of a worker's loopback socket (0 when it is no worker of a cluster node). */
  get workerPort(): number {
    return this.workerPortValue;
  }

  /** Bound management address. */
  get mgmtAddress(): string {
    return this.o.mgmt.address;
  }

  get running(): boolean {
    return this.dtlsSocket !== undefined;
  }

  /** The node's own id. */
  get nodeId(): number {
    return this.o.nodeId;
  }

  /**
   * Binds both sockets, the public DTLS one first (an ephemeral management port cannot take its port); a restart
   * (console save/load) binds the ports of the first start again (ephemeral ones too).
   */
  async start(): Promise<void> {
    const dtls = await bindUdpSocket(this.o.dtls, this.dtlsPort);
    const bound: dgram.Socket[] = [dtls];
    const worker = this.o.worker;
    try {
      if (worker?.relay !== true) bound.push(await bindUdpSocket(this.o.mgmt, this.mgmtPortValue));
      if (worker !== undefined) bound.push(await bindUdpSocket(worker.socket, this.workerPortValue));
    } catch (err) {
      await Promise.all(bound.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      throw err;
    }
    const mgmt = worker?.relay !== true ? bound[1] : undefined;
    if (worker !== undefined) {
      this.workerSocket = bound.at(-1)!;
      this.workerPortValue = this.workerSocket.address().port;
      this.workerSocket.on('message', (msg, rinfo) => this.fromWorker(msg, { address: rinfo.address, port: rinfo.port }));
    }
    this.mgmtSocket = mgmt;
    this.dtlsSocket = dtls;
    this.dtlsPort = dtls.address().port;
    dtls.on('message', (msg, rinfo) => this.fromClient(msg, rinfo.address, rinfo.port));
    if (mgmt !== undefined) {
      this.mgmtPortValue = mgmt.address().port;
      mgmt.on('message', (msg, rinfo) => this.fromNode(msg, { address: rinfo.address, port: rinfo.port }));
    }
  }

  async stop(): Promise<void> {
    const sockets = [this.dtlsSocket, this.mgmtSocket, this.workerSocket];
    this.dtlsSocket = undefined;
    this.mgmtSocket = undefined;
    this.workerSocket = undefined;
    await Promise.all(sockets.map((s) => (s ? new Promise<void>((resolve) => s.close(() => resolve())) : undefined)));
  }

  /** Sends a raw datagram from the management socket (the management channel's sender). */
  sendMgmt(data: Buffer, to: PeerAddress, done: SendDone): void {
    const socket = this.mgmtSocket;
    if (socket === undefined) {
      done(new Error('cluster transport stopped'));
      return;
    }
    socket.send(data, to.port, to.address, done);
  }

  /**
   * Outgoing record of the connector. Backward mode and a router: a type 62 packet to the router
   * (cluster.md §4.4), failing when the router is no current node; otherwise from the DTLS socket.
   */
  send(data: Buffer, address: string, port: number, router: PeerAddress | undefined, done: SendDone): void {
    // a record another worker of this node handed over came in on the public port: the answer leaves from it too
    if (router !== undefined && this.o.backward && !this.workerResolver.isNode(router)) {
      if (this.o.worker?.relay === true) {
        // worker 0 holds the node table and the MAC keys: it sends the type 62 packet (see fromWorker)
        const inner = encodeClusterPacket(RECORD_TYPE_OUTGOING, { address, port }, data, 0);
        if (!this.relay(inner === undefined ? undefined : encodeClusterPacket(RECORD_TYPE_OUTGOING, router, inner.packet, 0)?.packet, done)) {
          this.stats['drop backward']++;
        }
        return;
      }
      if (!this.resolver.routerAvailable(router)) {
        this.stats['drop backward']++;
        done(new Error(`Cluster internal destination ${router.address}:${router.port} not longer available!`));
        return;
      }
      const packet = this.packet(RECORD_TYPE_OUTGOING, { address, port }, data, router);
      if (packet === undefined) {
        this.stats['drop backward']++;
        done(new Error(`no cluster MAC key for ${router.address}:${router.port}`));
        return;
      }
      this.stats.backwarded++;
      this.sendMgmt(packet, router, done);
      return;
    }
    const socket = this.dtlsSocket;
    if (socket === undefined) {
      done(new Error('cluster transport stopped'));
      return;
    }
    socket.send(data, port, address, done);
  }

  /** A datagram on the DTLS socket (cluster.md §4.2). */
  private fromClient(data: Buffer, address: string, port: number): void {
    const nodeId = cidNodeId(data);
    if (nodeId !== undefined && this.cidRouter !== undefined && this.cidRouter.route(data, nodeId, { address, port })) return;
    if (nodeId !== undefined && nodeId !== (this.o.nodeId & 0xff)) {
      this.forward(nodeId, data, address, port);
      return;
    }
    if (this.toWorker(data, { address, port }, undefined)) return;
    this.onDatagram(data, address, port, undefined);
  }

  /**
   * A worker of a cluster node: a record of this node whose CID byte 1 names another worker goes to that worker's
   * loopback socket (with the node that forwarded it, if any: backward answers go through that node). True when
   * the record was handed over (or dropped for want of the worker).
   */
  private toWorker(record: Buffer, client: PeerAddress, router: PeerAddress | undefined): boolean {
    const worker = this.o.worker;
    if (worker === undefined || cidNodeId(record) === undefined || record[12] === (worker.index & 0xff)) return false;
    const to = this.workerResolver.nodeAddress(record[12]!);
    // loopback packets: type 63 (client, record), or type 62 (router, type 63 packet) when another node forwarded it
    const inner = to === undefined ? undefined : encodeClusterPacket(RECORD_TYPE_INCOMING, client, record, 0);
    const packet = inner === undefined || router === undefined ? inner : encodeClusterPacket(RECORD_TYPE_OUTGOING, router, inner.packet, 0);
    const socket = this.workerSocket;
    if (to === undefined || packet === undefined || socket === undefined) {
      this.stats['drop forward']++;
      return true;
    }
    this.stats.forwarded++;
    socket.send(packet.packet, to.port, to.address, this.countMgmtSendError);
    return true;
  }

  /** Hands a loopback packet to worker 0, the node's manager (WorkerRole.relay); false (done with an error) when it cannot. */
  private relay(packet: Buffer | undefined, done: SendDone): boolean {
    const to = this.workerResolver.nodeAddress(MANAGING_WORKER);
    const socket = this.workerSocket;
    if (packet === undefined || to === undefined || socket === undefined) {
      done(new Error(`worker ${MANAGING_WORKER} of this cluster node is not available`));
      return false;
    }
    socket.send(packet, to.port, to.address, done);
    return true;
  }

  /**
   * A packet another worker of this node handed over; only from the other workers' sockets. Type 63 (client,
   * record): a record for this worker (toWorker) or, in worker 0 of a relaying node, for another node (forward);
   * type 62 (router, type 63 packet): a record another node forwarded; type 62 (router, type 62 packet): in worker 0
   * of a relaying node, a backward answer to send through the router.
   */
  private fromWorker(data: Buffer, from: PeerAddress): void {
    if (!this.workerResolver.isNode(from)) {
      this.stats['bad forward']++;
      return;
    }
    const outer = decodeClusterPacket(data, 0);
    const inner = outer?.type === RECORD_TYPE_OUTGOING ? decodeClusterPacket(data.subarray(outer.payloadOffset), 0) : outer;
    if (outer === undefined || inner === undefined) {
      this.stats['drop forward']++;
      return;
    }
    const payload = outer === inner ? data.subarray(inner.payloadOffset) : data.subarray(outer.payloadOffset + inner.payloadOffset);
    if (inner.type === RECORD_TYPE_OUTGOING) {
      // outer !== inner here: a relaying worker's backward answer (send() of that worker)
      this.send(payload, inner.client.address, inner.client.port, outer.client, this.countMgmtSendError);
      return;
    }
    if (outer === inner) {
      const nodeId = cidNodeId(payload);
      if (nodeId !== undefined && nodeId !== (this.o.nodeId & 0xff)) {
        this.forward(nodeId, payload, inner.client.address, inner.client.port);
        return;
      }
    }
    this.stats['process forwarded']++;
    this.onDatagram(payload, inner.client.address, inner.client.port, outer === inner ? from : outer.client);
  }

  /** Forwards a client's record to another node (type 63), whatever node its CID names (a connection taken over, issue 12). */
  forwardTo(nodeId: number, data: Buffer, client: PeerAddress): void {
    this.forward(nodeId, data, client.address, client.port);
  }

  /** Processes a client's record on this node, whatever node its CID names (a connection taken over, issue 12). */
  deliver(data: Buffer, client: PeerAddress, router?: PeerAddress): void {
    this.onDatagram(data, client.address, client.port, router);
  }

  /** Forwards a datagram with another node's CID to that node (type 63); a relaying worker hands it to worker 0. */
  private forward(nodeId: number, data: Buffer, address: string, port: number): void {
    if (this.o.worker?.relay === true) {
      this.relay(encodeClusterPacket(RECORD_TYPE_INCOMING, { address, port }, data, 0)?.packet, this.countMgmtSendError);
      return;
    }
    const to = this.resolver.nodeAddress(nodeId);
    const packet = to === undefined ? undefined : this.packet(RECORD_TYPE_INCOMING, { address, port }, data, to);
    if (to === undefined || packet === undefined) {
      this.stats['drop forward']++;
      return;
    }
    this.stats.forwarded++;
    this.sendMgmt(packet, to, this.countMgmtSendError);
  }

  /** A cluster packet (with its MAC when enabled); undefined when the MAC key is missing. */
  private packet(type: number, client: PeerAddress, data: Buffer, node: PeerAddress): Buffer | undefined {
    let key;
    if (this.macLength > 0) {
      key = this.channel?.macKeys(node)?.write;
      if (key === undefined) return undefined;
    }
    const encoded = encodeClusterPacket(type, client, data, this.macLength);
    if (encoded === undefined) return undefined;
    if (key !== undefined) writeClusterMac(key, encoded.packet, encoded.headerLength);
    return encoded.packet;
  }

  /** A datagram on the management socket, dispatched by its first byte (cluster.md §3). */
  private fromNode(data: Buffer, from: PeerAddress): void {
    const type = data.length > 0 ? data[0] : undefined;
    if (type === RECORD_TYPE_INCOMING || type === RECORD_TYPE_OUTGOING) {
      const incoming = type === RECORD_TYPE_INCOMING;
      // only other nodes forward and backward: a packet from elsewhere could make this node process
      // records "from" any address or send bytes to any address (beyond the reference, which accepts any source)
      if (!this.resolver.isNode(from)) {
        this.stats[incoming ? 'bad forward' : 'bad backward']++;
        return;
      }
      const packet = decodeClusterPacket(data, this.macLength);
      if (packet === undefined) {
        this.stats['drop forward']++;
        return;
      }
      if (this.macLength > 0) {
        const key = this.channel?.macKeys(from)?.read;
        if (key === undefined || !verifyClusterMac(key, data, packet.headerLength)) {
          this.stats[incoming ? 'bad forward' : 'bad backward']++;
          return;
        }
      }
      const record = data.subarray(packet.payloadOffset);
      if (incoming) {
        // the node's workers share its management port: the one the kernel picked may not own the CID
        if (this.toWorker(record, packet.client, from)) return;
        // a record of this node's CID that it does not hold (back after another node took it over, issue 12)
        if (this.cidRouter !== undefined && cidNodeId(record) === (this.o.nodeId & 0xff) && this.cidRouter.route(record, this.o.nodeId & 0xff, packet.client, from)) return;
        this.stats['process forwarded']++;
        this.onDatagram(record, packet.client.address, packet.client.port, from);
        return;
      }
      const socket = this.dtlsSocket;
      if (socket === undefined) return;
      this.stats['send backwarded']++;
      socket.send(record, packet.client.port, packet.client.address, this.countMgmtSendError);
      return;
    }
    const channel = this.channel;
    if (channel === undefined) return; // static mode: no management channel
    this.stats['recv cluster mgmt']++;
    channel.receive(data, from);
  }
}
