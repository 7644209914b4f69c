export const id = 569;
export const ids = [569];
export const modules = {

/***/ 2569:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   readPfx: () => (/* binding */ readPfx)
/* harmony export */ });
/* harmony import */ var node_forge__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(8542);
/* harmony import */ var node_forge__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_forge__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(3916);
// PKCS#12 / PFX reading. node:crypto has no PKCS#12 parser, so node-forge does it: it reads the
// modern encryption (PBES2: PBKDF2 + AES-256-CBC, OpenSSL 3 and current Windows/Key Vault
// exports) and the legacy one (3DES or RC2-40 with a SHA-1 MAC). This module is imported only when
// a PFX is given, so PEM users never load it.


/**
 * Decrypts a PFX with its password (none: the empty password, as Windows and OpenSSL use).
 * @param input the input it came from, for messages.
 * @throws {InputError} on a wrong or missing password, or bytes that are not a PFX.
 */
function readPfx(der, input, password) {
    let asn1;
    try {
        asn1 = node_forge__WEBPACK_IMPORTED_MODULE_0___default().asn1.fromDer(node_forge__WEBPACK_IMPORTED_MODULE_0___default().util.createBuffer(der.toString('binary')));
    }
    catch {
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .InputError */ .dz(input, `Input '${input}' is neither PEM (-----BEGIN CERTIFICATE----- and a private key) nor a readable PKCS#12/PFX file.`);
    }
    const p12 = open(asn1, input, password);
    const contents = { keys: [], certificates: [] };
    for (const safe of p12.safeContents) {
        for (const bag of safe.safeBags) {
            // forge leaves key types it does not model (EC) as ASN.1 in `bag.asn1`.
            const raw = bag;
            if (bag.type === (node_forge__WEBPACK_IMPORTED_MODULE_0___default().pki).oids.pkcs8ShroudedKeyBag || bag.type === (node_forge__WEBPACK_IMPORTED_MODULE_0___default().pki).oids.keyBag) {
                const info = bag.key
                    ? node_forge__WEBPACK_IMPORTED_MODULE_0___default().pki.wrapRsaPrivateKey(node_forge__WEBPACK_IMPORTED_MODULE_0___default().pki.privateKeyToAsn1(bag.key))
                    : raw.asn1;
                if (info)
                    contents.keys.push(toBuffer(info));
            }
            else if (bag.type === (node_forge__WEBPACK_IMPORTED_MODULE_0___default().pki).oids.certBag) {
                const cert = bag.cert ? node_forge__WEBPACK_IMPORTED_MODULE_0___default().pki.certificateToAsn1(bag.cert) : raw.asn1;
                if (cert)
                    contents.certificates.push(toBuffer(cert));
            }
        }
    }
    return contents;
}
function open(asn1, input, password) {
    try {
        return node_forge__WEBPACK_IMPORTED_MODULE_0___default().pkcs12.pkcs12FromAsn1(asn1, false, password ?? '');
    }
    catch (error) {
        const text = error instanceof Error ? error.message : '';
        // forge's messages for a failed MAC check or key decryption; nothing else is shown.
        if (/password/i.test(text)) {
            throw password === undefined
                ? new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .InputError */ .dz('certificate-password', `The PFX in '${input}' is protected by a password: set 'certificate-password'.`)
                : new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .InputError */ .dz('certificate-password', `The PFX in '${input}' could not be opened: 'certificate-password' is wrong.`);
        }
        throw new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .InputError */ .dz(input, `Input '${input}' is not a PKCS#12/PFX file that can be read (damaged, truncated, or an unsupported encryption).`);
    }
}
function toBuffer(asn1) {
    return Buffer.from(node_forge__WEBPACK_IMPORTED_MODULE_0___default().asn1.toDer(asn1).getBytes(), 'binary');
}


/***/ })

};
