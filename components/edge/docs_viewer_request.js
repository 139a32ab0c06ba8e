// CloudFront Function (runtime cloudfront-js-2.0), viewer-request, on every behavior of the docs distribution.
//
// The S3 origin is reached through Origin Access Control (the S3 REST endpoint), which has no index documents:
// a directory URI must be rewritten to its index object here, at the edge. As in the seed lab, `/` goes to
// the docs. Requests under /api/ go to the REST API origin, whose origin path is the stage: the /api prefix
// is removed so /api/hello reaches <stage>/hello.
//
// cloudfront-js-2.0 is ES 5.1 plus a few ES6+ features, with no require() of anything but the runtime's own
// modules: keep this to plain string operations.

var DOCS_INDEX = '/docs/index.html';
var API_PREFIX = '/api';

function handler(event) {
    var request = event.request;
    var uri = request.uri;

    if (uri === API_PREFIX || uri.indexOf(API_PREFIX + '/') === 0) {
        var rest = uri.substring(API_PREFIX.length);
        request.uri = rest === '' ? '/' : rest;
        return request;
    }
    if (uri === '/' || uri === '/docs' || uri === '/docs/') {
        request.uri = DOCS_INDEX;
        return request;
    }
    // Any other directory-style URI under the site maps to its index document.
    if (uri.charAt(uri.length - 1) === '/') {
        request.uri = uri + 'index.html';
    }
    return request;
}
