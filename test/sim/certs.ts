// A throwaway CA and one server certificate per node (SAN = the node's loopback address and
// name), generated with the openssl CLI at start. EC keys keep this fast.
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface NodeCert { key: string; cert: string; fingerprint: string }

function openssl(args: string[], cwd: string) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** Writes `pve-root-ca.pem` into `dir` and returns its path. */
export function createCa(dir: string): string {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir)
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '30', '-subj', '/CN=Proxmox Virtual Environment (simulator)/OU=sim/O=PVE Cluster Manager CA', '-out', 'pve-root-ca.pem'], dir)
  return join(dir, 'pve-root-ca.pem')
}

export function createNodeCert(dir: string, name: string, ip: string): NodeCert {
  const ext = join(dir, `${name}.ext`)
  writeFileSync(ext, `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:${ip},DNS:${name},DNS:localhost\n`)
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir)
  openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}/OU=PVE Cluster Node/O=Proxmox Virtual Environment`, '-out', `${name}.csr`], dir)
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'pve-root-ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-sha256', '-extfile', ext, '-out', `${name}.pem`], dir)
  const cert = readFileSync(join(dir, `${name}.pem`), 'utf8')
  return { key: readFileSync(join(dir, `${name}.key`), 'utf8'), cert, fingerprint: new X509Certificate(cert).fingerprint256 }
}
