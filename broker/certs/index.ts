/** Certificates of a fleet: who a certificate names (identity.ts), how they are made (issue.ts), the CA folder (authority.ts). */
export {
  CLIENT_ID_SEPARATOR, ROLE_ATTRIBUTE, certificateClientId, clientIdRefusal, identityFromSubject, identityOfCertificate, type CertificateIdentity,
} from './identity.js';
export { DEFAULT_CA_DAYS, DEFAULT_LEAF_DAYS, createAuthority, issueBroker, issueClient, type CertificatePair, type Validity } from './issue.js';
export {
  LOCAL_HOSTS, addBroker, addClient, authorityFiles, checkPair, clientFiles, initAuthority, loadAuthority, loadClientCertificates, readPem,
  type AuthorityFiles, type ClientCertificate, type IssueOptions,
} from './authority.js';
