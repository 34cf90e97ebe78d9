// The ts-mls side of Sotto's MLS interop test (tests/interop/mls/interop_mls.c drives it).
//
// One JSON object per line on stdin, one answer per line on stdout, in order:
//   request  {"op": "...", "member": "name", ...}       bytes are lowercase hex
//   answer   {"ok": true, ...}  or  {"ok": false, "error": "why"}
// A refused operation leaves the member's state as it was. Every member lives in this
// process, each with its own ts-mls ClientState; cipher suite 3 only.
//
// ops:
//   key_package {identity, grease?}           -> {key_package}   (a bare KeyPackage)
//   create_group {group_id}
//   join {welcome, ratchet_tree?}             (an MLSMessage Welcome; tree out of band)
//   commit {adds?: [KeyPackage], removes?: [leaf], psks?: [{id} | {epoch}],
//           extensions?: [{type, data}], public?, ratchet_tree_ext?, aad?}
//                                            -> {commit, welcome?, ratchet_tree}
//                                            (psks: PreSharedKey proposals of an external
//                                            PSK given by psk, or of this group's
//                                            resumption PSK of an epoch; extensions: a
//                                            GroupContextExtensions proposal)
//                                            (every proposal received this epoch is
//                                            committed by reference, as ts-mls does)
//   propose {kind: "remove"|"add"|"update", removed?, key_package?, public?} -> {message}
//                                            (update: ts-mls 1.6.4 has no call for it; the
//                                            LeafNode is made here with its encoders, and
//                                            its key used when a Commit applies it)
//   send {data, aad?}                         -> {message}   (aad: authenticated_data)
//   process {message}                         -> {kind, data?, removed}
//   psk {id, secret}                          (an external PSK the member holds)
//   state                                     -> {epoch, epoch_authenticator, leaf,
//                                                n_leaves, tree_hash, members, active}
//   export {label, context, length}           -> {secret}
//   transcript                                -> {confirmation_key, confirmation_tag,
//                                                confirmed_transcript_hash}   (this epoch's;
//                                                for the epoch-0 transcript check only)
//   forget                                    (drops the member)
import { createInterface } from "node:readline";
import {
	acceptAll, createApplicationMessage, createCommit, createGroup, createProposal,
	decodeMlsMessage, defaultExtensionTypes, defaultLifetime, defaultLifetimeConfig, emptyPskIndex, encodeMlsMessage, generateKeyPackage,
	getCiphersuiteFromName, getCiphersuiteImpl, joinGroup, makePskIndex, mlsExporter,
	processPrivateMessage, processPublicMessage,
} from "ts-mls";
import { getOwnLeafNode } from "ts-mls/clientState.js";
import { defaultClientConfig } from "ts-mls/clientConfig.js";
import { encode } from "ts-mls/codec/tlsEncoder.js";
import { signWithLabel } from "ts-mls/crypto/signature.js";
import { decodeKeyPackage, encodeKeyPackage } from "ts-mls/keyPackage.js";
import { leafNodeTBSEncoder } from "ts-mls/leafNode.js";
import { updateLeafKey } from "ts-mls/privateKeyPath.js";
import { decodeRatchetTree, encodeRatchetTree } from "ts-mls/ratchetTree.js";
import { treeHashRoot } from "ts-mls/treeHash.js";

const SUITE = "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519";
const impl = await getCiphersuiteImpl(getCiphersuiteFromName(SUITE));
const members = new Map();
// Stricter than ts-mls's default: the lifetimes of KeyPackage leaves received (Sotto's
// included) are checked against the clock too.
const config = {
	...defaultClientConfig,
	lifetimeConfig: { ...defaultLifetimeConfig, validateLifetimeOnReceive: true },
};

const hex = (b) => Buffer.from(b).toString("hex");
function unhex(s, what) {
	if (typeof s !== "string" || !/^([0-9a-f]{2})*$/.test(s))
		throw new Error(`${what}: not hex`);
	return new Uint8Array(Buffer.from(s, "hex"));
}
function decodeAll(decoder, bytes, what) {
	const r = decoder(bytes, 0);
	if (r === undefined || r[1] !== bytes.length)
		throw new Error(`${what}: does not decode`);
	return r[0];
}
function member(name) {
	const m = members.get(name);
	if (m === undefined)
		throw new Error(`no member ${name}`);
	return m;
}
function group(name) {
	const m = member(name);
	if (m.state === undefined)
		throw new Error(`${name} is in no group`);
	return m;
}
function message(m) {
	return hex(encodeMlsMessage({ version: "mls10", ...m }));
}

// Capabilities without ts-mls's random GREASE, so that a run is repeatable; with
// grease, one fixed GREASE value (RFC 9420 13.5) in every list a receiver must tolerate.
function capabilities(grease) {
	const g = grease ? [0x0a0a] : [];
	return {
		versions: ["mls10"],
		ciphersuites: [SUITE, ...g.map(String)],
		extensions: [...g],
		proposals: [...g],
		credentials: ["basic", ...g.map(String)],
	};
}

// A LeafNode for an Update proposal of m (RFC 9420 12.1.2): its leaf with a fresh HPKE key,
// source update, signed over LeafNodeTBS with the group id and leaf index. The private key
// is kept as m.pending until a Commit of this epoch applies it.
async function updateLeaf(m) {
	const s = m.state;
	const own = getOwnLeafNode(s);
	const kp = await impl.hpke.generateKeyPair();
	const leaf = {
		hpkePublicKey: await impl.hpke.exportPublicKey(kp.publicKey),
		signaturePublicKey: own.signaturePublicKey,
		credential: own.credential,
		capabilities: own.capabilities,
		leafNodeSource: "update",
		extensions: own.extensions,
	};
	const tbs = { ...leaf, groupId: s.groupContext.groupId, leafIndex: s.privatePath.leafIndex };
	const signature = await signWithLabel(s.signaturePrivateKey, "LeafNodeTBS",
	    encode(leafNodeTBSEncoder)(tbs), impl.signature);
	m.pending = { pub: leaf.hpkePublicKey, sec: await impl.hpke.exportPrivateKey(kp.privateKey) };
	return { ...leaf, signature };
}

const ops = {
	async key_package(req) {
		const credential = { credentialType: "basic", identity: new TextEncoder().encode(req.identity) };
		const kp = await generateKeyPackage(credential, capabilities(req.grease === true),
		    defaultLifetime, [], impl);
		members.set(req.member, { kp, state: undefined, psks: {} });
		return { key_package: hex(encodeKeyPackage(kp.publicPackage)) };
	},
	async create_group(req) {
		const m = member(req.member);
		m.state = await createGroup(unhex(req.group_id, "group_id"), m.kp.publicPackage,
		    m.kp.privatePackage, [], impl, config);
		return {};
	},
	async join(req) {
		const m = member(req.member);
		const msg = decodeAll(decodeMlsMessage, unhex(req.welcome, "welcome"), "welcome");
		if (msg.wireformat !== "mls_welcome")
			throw new Error(`not a Welcome: ${msg.wireformat}`);
		const tree = req.ratchet_tree === undefined ? undefined :
		    decodeAll(decodeRatchetTree, unhex(req.ratchet_tree, "ratchet_tree"), "ratchet_tree");
		m.state = await joinGroup(msg.welcome, m.kp.publicPackage, m.kp.privatePackage,
		    emptyPskIndex, impl, tree, undefined, config);
		return {};
	},
	async commit(req) {
		const m = group(req.member);
		const proposals = [];
		for (const k of req.adds ?? [])
			proposals.push({ proposalType: "add",
			    add: { keyPackage: decodeAll(decodeKeyPackage, unhex(k, "adds"), "key package") } });
		for (const leaf of req.removes ?? [])
			proposals.push({ proposalType: "remove", remove: { removed: leaf } });
		for (const p of req.psks ?? []) {
			const pskNonce = impl.rng.randomBytes(32);
			const id = p.id !== undefined ?
			    { psktype: "external", pskId: unhex(p.id, "psk id"), pskNonce } :
			    { psktype: "resumption", usage: "application",
			      pskGroupId: m.state.groupContext.groupId, pskEpoch: BigInt(p.epoch), pskNonce };
			proposals.push({ proposalType: "psk", psk: { preSharedKeyId: id } });
		}
		if (req.extensions !== undefined) {
			// ts-mls names the default extension types and compares them by name
			const name = (t) => Object.keys(defaultExtensionTypes)
			    .find((k) => defaultExtensionTypes[k] === t) ?? t;
			proposals.push({ proposalType: "group_context_extensions", groupContextExtensions: {
				extensions: req.extensions.map((e) => ({ extensionType: name(e.type),
				    extensionData: unhex(e.data, "extension data") })),
			} });
		}
		const r = await createCommit({ state: m.state, cipherSuite: impl,
		    pskIndex: makePskIndex(m.state, m.psks) }, {
			extraProposals: proposals,
			wireAsPublicMessage: req.public === true,
			ratchetTreeExtension: req.ratchet_tree_ext === true,
			authenticatedData: req.aad === undefined ? undefined : unhex(req.aad, "aad"),
		});
		m.state = r.newState;
		return {
			commit: message(r.commit),
			welcome: r.welcome === undefined ? null :
			    message({ wireformat: "mls_welcome", welcome: r.welcome }),
			ratchet_tree: hex(encodeRatchetTree(r.newState.ratchetTree)),
		};
	},
	async propose(req) {
		const m = group(req.member);
		let p;
		if (req.kind === "remove")
			p = { proposalType: "remove", remove: { removed: req.removed } };
		else if (req.kind === "add")
			p = { proposalType: "add", add: { keyPackage:
			    decodeAll(decodeKeyPackage, unhex(req.key_package, "key_package"), "key package") } };
		else if (req.kind === "update")
			p = { proposalType: "update", update: { leafNode: await updateLeaf(m) } };
		else
			throw new Error(`cannot propose ${req.kind}`);
		const r = await createProposal(m.state, req.public === true, p, impl);
		m.state = r.newState;
		return { message: message(r.message) };
	},
	async send(req) {
		const m = group(req.member);
		const r = await createApplicationMessage(m.state, unhex(req.data, "data"), impl,
		    req.aad === undefined ? undefined : unhex(req.aad, "aad"));
		m.state = r.newState;
		return { message: message({ wireformat: "mls_private_message", privateMessage: r.privateMessage }) };
	},
	async process(req) {
		const m = group(req.member);
		const msg = decodeAll(decodeMlsMessage, unhex(req.message, "message"), "message");
		if (msg.wireformat !== "mls_public_message" && msg.wireformat !== "mls_private_message")
			throw new Error(`cannot process ${msg.wireformat}`);
		// ts-mls's processMessage gives PrivateMessages an empty PSK index: call the two
		// functions it dispatches to, with the member's PSKs.
		const run = (state) => msg.wireformat === "mls_public_message" ?
		    processPublicMessage(state, msg.publicMessage, makePskIndex(state, m.psks), impl, acceptAll) :
		    processPrivateMessage(state, msg.privateMessage, makePskIndex(state, m.psks), impl, acceptAll);
		// With an Update of ours pending, a Commit that applies it needs its key: try that
		// first, and keep it only if our leaf is then the Update's (states are immutable).
		let r;
		if (m.pending !== undefined) {
			try {
				r = await run({ ...m.state, privatePath: updateLeafKey(m.state.privatePath, m.pending.sec) });
				if (!Buffer.from(getOwnLeafNode(r.newState).hpkePublicKey).equals(Buffer.from(m.pending.pub)))
					r = undefined;
			} catch {
				r = undefined;
			}
		}
		if (r === undefined)
			r = await run(m.state);
		if (r.newState.groupContext.epoch !== m.state.groupContext.epoch)
			m.pending = undefined;
		m.state = r.newState;
		return {
			kind: r.kind === "applicationMessage" ? "application" : "handshake",
			data: r.kind === "applicationMessage" ? hex(r.message) : null,
			removed: m.state.groupActiveState.kind === "removedFromGroup",
		};
	},
	async state(req) {
		const s = group(req.member).state;
		return {
			epoch: Number(s.groupContext.epoch),
			epoch_authenticator: hex(s.keySchedule.epochAuthenticator),
			leaf: s.privatePath.leafIndex,
			n_leaves: (s.ratchetTree.length + 1) / 2,
			tree_hash: hex(await treeHashRoot(s.ratchetTree, impl.hash)),
			members: s.ratchetTree.filter((n, i) => i % 2 === 0 && n !== undefined)
			    .map((n) => new TextDecoder().decode(n.leaf.credential.identity)),
			active: s.groupActiveState.kind,
		};
	},
	async transcript(req) {
		const s = group(req.member).state;
		return {
			confirmation_key: hex(s.keySchedule.confirmationKey),
			confirmation_tag: hex(s.confirmationTag),
			confirmed_transcript_hash: hex(s.groupContext.confirmedTranscriptHash),
		};
	},
	async export(req) {
		const s = group(req.member).state;
		return { secret: hex(await mlsExporter(s.keySchedule.exporterSecret, req.label,
		    unhex(req.context, "context"), req.length, impl)) };
	},
	async psk(req) {
		const m = member(req.member);
		m.psks[Buffer.from(unhex(req.id, "id")).toString("base64")] = unhex(req.secret, "secret");
		return {};
	},
	async forget(req) {
		members.delete(req.member);
		return {};
	},
};

// One request at a time: an answer is written before the next line is read.
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
	let answer;
	try {
		const req = JSON.parse(line);
		const op = ops[req.op];
		if (op === undefined)
			throw new Error(`unknown op ${req.op}`);
		answer = { ok: true, ...(await op(req)) };
	} catch (e) {
		answer = { ok: false, error: String(e?.message ?? e) };
	}
	process.stdout.write(JSON.stringify(answer) + "\n");
}
