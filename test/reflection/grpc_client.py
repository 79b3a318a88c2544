"""A gRPC client that knows nothing of our contracts but the servers' addresses.

Usage: /usr/bin/python3 grpc_client.py ADDRESS[=Service,...] [ADDRESS[=Service,...] ...]

For each address it:
  - lists the services through server reflection (grpc.reflection.v1alpha),
  - fetches the file of every listed service (file_containing_symbol), then
    every import by name (file_by_filename), recursively, loads them all into
    a fresh DescriptorPool and builds the request and response message classes
    of every method, and every message and enum type they reach,
  - asks grpc.health.v1.Health/Check for '' and every expected service.
When the addresses between them serve shortener.v1.IdentityService and
shortener.v1.LinkService, it then makes real calls with messages built from
the reflected descriptors alone: IssueGuest, CreateLink for that guest,
ResolveLink of the new code, and ResolveLink of an unknown code.

Prints a JSON summary on stdout (int64 values as decimal strings); on any
failure the summary holds `error` and the exit status is 1.

Only the Debian packages python3-grpcio and python3-grpc-tools are needed: the
reflection and health protos are compiled at run time from the copies that
ship in node_modules. Run it with /usr/bin/python3.
"""

import importlib.util
import json
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

ROOT = Path(__file__).resolve().parents[2]
REFLECTION_INCLUDE = ROOT / 'node_modules' / '@grpc' / 'reflection' / 'build' / 'proto'
REFLECTION_PROTO = 'grpc/reflection/v1alpha/reflection.proto'
HEALTH_INCLUDE = ROOT / 'node_modules' / 'grpc-health-check' / 'proto'
HEALTH_PROTO = 'health/v1/health.proto'

REFLECTION_METHOD = '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo'
HEALTH_METHOD = '/grpc.health.v1.Health/Check'
IDENTITY_SERVICE = 'shortener.v1.IdentityService'
LINK_SERVICE = 'shortener.v1.LinkService'
TIMEOUT_S = 10
# FileDescriptorProto.service = 6, ServiceDescriptorProto.method = 2.
SERVICE_PATH, METHOD_PATH = 6, 2


class Failure(Exception):
    """A check failed; the message says which and why."""


def check(condition, message):
    if not condition:
        raise Failure(message)


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compile_protos(out):
    """Compiles the reflection and health protos; returns their _pb2 modules.

    The generated files live under grpc/... and health/..., which would clash
    with the grpc package if imported as packages, so they are loaded by path.
    Only messages are generated: calls go through the channel's generic API.
    """
    from grpc_tools import protoc

    for include, proto in ((REFLECTION_INCLUDE, REFLECTION_PROTO), (HEALTH_INCLUDE, HEALTH_PROTO)):
        check((include / proto).is_file(), f'proto not found: {include / proto}')
        code = protoc.main(['grpc_tools.protoc', f'-I{include}', f'--python_out={out}', proto])
        check(code == 0, f'protoc failed on {proto} (exit {code})')
    reflection = load_module(
        'reflection_v1alpha_pb2', Path(out) / REFLECTION_PROTO.replace('.proto', '_pb2.py')
    )
    health = load_module('health_v1_pb2', Path(out) / HEALTH_PROTO.replace('.proto', '_pb2.py'))
    return reflection, health


def message_class(descriptor):
    """The message class for a descriptor, whichever protobuf 4.x API exists."""
    if hasattr(message_factory, 'GetMessageClass'):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(descriptor.file.pool).GetPrototype(descriptor)


def int64(value):
    return str(value)


class Target:
    """One server address, explored through reflection."""

    def __init__(self, address, expected, reflection, health):
        self.address = address
        self.expected = expected
        self.reflection = reflection
        self.health = health
        self.channel = grpc.insecure_channel(address, options=[('grpc.enable_http_proxy', 0)])
        self.pool = descriptor_pool.DescriptorPool()
        self.files = {}  # name -> FileDescriptorProto, as the server sent it
        self.raw = {}  # name -> bytes, to check every answer sends the same file
        self.loaded = set()
        self.summary = {'address': address, 'expected': expected}

    def close(self):
        self.channel.close()

    # --- reflection -------------------------------------------------------

    def reflect(self, **request):
        """One reflection request on its own stream; returns the response."""
        R = self.reflection
        call = self.channel.stream_stream(
            REFLECTION_METHOD,
            request_serializer=R.ServerReflectionRequest.SerializeToString,
            response_deserializer=R.ServerReflectionResponse.FromString,
        )
        what = ', '.join(f'{k}={v!r}' for k, v in request.items())
        try:
            responses = list(call(iter([R.ServerReflectionRequest(**request)]), timeout=TIMEOUT_S))
        except grpc.RpcError as error:
            raise Failure(
                f'reflection request {what} failed: {error.code().name} {error.details()}'
            ) from error
        check(len(responses) == 1, f'reflection request {what}: {len(responses)} responses')
        response = responses[0]
        if response.HasField('error_response'):
            raise Failure(
                f'reflection request {what} answered error {response.error_response.error_code}: '
                f'{response.error_response.error_message}'
            )
        return response

    def list_services(self):
        response = self.reflect(list_services='*')
        check(
            response.HasField('list_services_response'),
            'list_services answered without list_services_response',
        )
        services = [s.name for s in response.list_services_response.service]
        self.summary['services'] = services
        missing = [s for s in self.expected if s not in services]
        check(not missing, f'reflection does not list {missing}; it lists {services}')
        return services

    def receive_files(self, response, asked):
        check(
            response.HasField('file_descriptor_response'),
            f'{asked} answered without file_descriptor_response',
        )
        names = []
        for blob in response.file_descriptor_response.file_descriptor_proto:
            proto = descriptor_pb2.FileDescriptorProto.FromString(blob)
            check(proto.name, f'{asked} sent a FileDescriptorProto without a name')
            if proto.name in self.raw:
                check(
                    self.files[proto.name] == proto,
                    f'{asked} sent a different {proto.name} than an earlier answer',
                )
            else:
                self.raw[proto.name] = blob
                self.files[proto.name] = proto
            names.append(proto.name)
        check(names, f'{asked} sent no files')
        return names

    def fetch_closure(self, symbol):
        """file_containing_symbol, then file_by_filename for every import, recursively."""
        asked = f'file_containing_symbol({symbol!r})'
        names = self.receive_files(self.reflect(file_containing_symbol=symbol), asked)
        fetched_by_name = set()
        pending = [dep for name in names for dep in self.files[name].dependency]
        while pending:
            dep = pending.pop()
            if dep in fetched_by_name:
                continue
            fetched_by_name.add(dep)
            asked = f'file_by_filename({dep!r})'
            got = self.receive_files(self.reflect(file_by_filename=dep), asked)
            check(dep in got, f'{asked} did not send {dep}; it sent {got}')
            for name in got:
                pending.extend(self.files[name].dependency)
        return names[0], sorted(fetched_by_name)

    def load_into_pool(self, root):
        """Adds root and its imports to the pool, imports first; fails on any unresolved import."""

        def add(name, chain):
            if name in self.loaded:
                return
            check(name not in chain, f'import cycle: {" -> ".join(chain + [name])}')
            check(
                name in self.files,
                f'{" -> ".join(chain)} imports {name}, which reflection never sent',
            )
            for dep in self.files[name].dependency:
                add(dep, chain + [name])
            try:
                self.pool.Add(self.files[name])
                self.pool.FindFileByName(name)
            except Exception as error:  # noqa: BLE001 - any resolution error fails the check
                raise Failure(f'cannot load {name} into a DescriptorPool: {error}') from error
            self.loaded.add(name)

        add(root, [])

    # --- descriptors --------------------------------------------------------

    def reach_types(self, message, seen):
        """Builds the class of a message and of every message and enum it reaches."""
        if message.full_name in seen:
            return
        seen[message.full_name] = 'message'
        try:
            cls = message_class(message)
            instance = cls()
            cls.FromString(instance.SerializeToString())
        except Exception as error:  # noqa: BLE001
            raise Failure(f'cannot build message class {message.full_name}: {error}') from error
        for field in message.fields:
            if field.message_type is not None:
                self.reach_types(field.message_type, seen)
            elif field.enum_type is not None:
                enum = field.enum_type
                check(enum.values, f'enum {enum.full_name} of {field.full_name} has no values')
                seen[enum.full_name] = 'enum'
        for nested in message.nested_types:
            self.reach_types(nested, seen)
        for enum in message.enum_types:
            seen[enum.full_name] = 'enum'

    def comments(self, file_name, service):
        """Leading comments of the service and its methods, from source_code_info."""
        proto = self.files[file_name]
        index = [s.name for s in proto.service].index(service.name)
        by_path = {tuple(loc.path): loc.leading_comments for loc in proto.source_code_info.location}
        service_comment = by_path.get((SERVICE_PATH, index), '').strip()
        methods = {
            m.name: by_path.get((SERVICE_PATH, index, METHOD_PATH, i), '').strip()
            for i, m in enumerate(proto.service[index].method)
        }
        return {
            'service': service_comment.splitlines()[0] if service_comment else '',
            'methodsWithComments': sum(1 for c in methods.values() if c),
            'methods': len(methods),
        }

    def describe(self, service_name):
        file_name, by_filename = self.fetch_closure(service_name)
        self.load_into_pool(file_name)
        try:
            service = self.pool.FindServiceByName(service_name)
        except KeyError as error:
            raise Failure(f'{service_name} is not in the reflected files: {error}') from error
        check(
            service.file.name == file_name,
            f'{service_name} is in {service.file.name}, not in {file_name} as reflection said',
        )
        check(service.methods, f'{service_name} has no methods')
        seen = {}
        methods = []
        for method in service.methods:
            self.reach_types(method.input_type, seen)
            self.reach_types(method.output_type, seen)
            methods.append(
                {
                    'name': method.name,
                    'request': method.input_type.full_name,
                    'response': method.output_type.full_name,
                    'clientStreaming': bool(getattr(method, 'client_streaming', False)),
                    'serverStreaming': bool(getattr(method, 'server_streaming', False)),
                }
            )
        return {
            'file': file_name,
            'imports': list(self.files[file_name].dependency),
            'fetchedByFilename': by_filename,
            'methods': methods,
            'types': dict(sorted(seen.items())),
            'comments': self.comments(file_name, service),
        }

    # --- health -----------------------------------------------------------

    def health_check(self, service):
        H = self.health
        call = self.channel.unary_unary(
            HEALTH_METHOD,
            request_serializer=H.HealthCheckRequest.SerializeToString,
            response_deserializer=H.HealthCheckResponse.FromString,
        )
        try:
            response = call(H.HealthCheckRequest(service=service), timeout=TIMEOUT_S)
        except grpc.RpcError as error:
            raise Failure(
                f'Health/Check({service!r}) failed: {error.code().name} {error.details()}'
            ) from error
        return H.HealthCheckResponse.ServingStatus.Name(response.status)

    # --- the whole exploration --------------------------------------------

    def explore(self):
        """Lists, describes and health-checks; returns the failures (list_services aborts)."""
        errors = []
        services = self.list_services()
        self.summary['described'] = {}
        for name in services:
            try:
                self.summary['described'][name] = self.describe(name)
            except Failure as failure:
                self.summary['described'][name] = {'error': str(failure)}
                errors.append(f'describing {name}: {failure}')
        self.summary['health'] = {}
        for name in [''] + self.expected:
            try:
                status = self.health_check(name)
            except Failure as failure:
                status = 'ERROR'
                errors.append(str(failure))
            self.summary['health'][name] = status
            if status not in ('SERVING', 'ERROR'):
                errors.append(f'Health/Check({name!r}) is {status}, not SERVING')
        return errors

    def serves(self, name):
        """True if reflection listed the service and its messages were all built."""
        described = self.summary.get('described', {}).get(name, {})
        return 'methods' in described

    # --- calls from reflected descriptors ----------------------------------

    def unary(self, service, method, request):
        """Calls service/method; request and response types come from the pool."""
        descriptor = self.pool.FindServiceByName(service).FindMethodByName(method)
        check(descriptor is not None, f'{service} has no method {method}')
        response_class = message_class(descriptor.output_type)
        call = self.channel.unary_unary(
            f'/{service}/{method}',
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_class.FromString,
        )
        return call(request, timeout=TIMEOUT_S)

    def new(self, full_name):
        return message_class(self.pool.FindMessageTypeByName(full_name))()


def to_json(message):
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def rpc_failure(what, error):
    return Failure(f'{what} failed: {error.code().name} {error.details()}')


def calls(identity, link, summary):
    """IssueGuest, CreateLink, ResolveLink and an unknown code, all from reflected types.

    Fills summary step by step, so a failure shows how far the calls got.
    """

    request = identity.new('shortener.v1.IssueGuestRequest')
    try:
        issued = identity.unary(IDENTITY_SERVICE, 'IssueGuest', request)
    except grpc.RpcError as error:
        raise rpc_failure('IssueGuest', error) from error
    guest_kind = identity.pool.FindEnumTypeByName('shortener.v1.PrincipalKind')
    kind_name = guest_kind.values_by_number[issued.guest.kind].name
    summary['issueGuest'] = {
        'guestId': int64(issued.guest.id),
        'kind': kind_name,
        'token': bool(issued.token),
        'tokenExpiresAt': to_json(issued).get('token_expires_at', ''),
    }
    check(issued.token, f'IssueGuest answered no token: {to_json(issued)}')
    check(issued.guest.id > 0, f'IssueGuest answered no guest id: {to_json(issued)}')
    check(kind_name == 'PRINCIPAL_KIND_GUEST', f'IssueGuest answered kind {kind_name}')
    check(issued.token_expires_at.seconds > time.time(), 'IssueGuest token already expired')

    target_url = 'https://example.com/from-python'
    request = link.new('shortener.v1.CreateLinkRequest')
    request.caller.id = issued.guest.id
    guest = link.pool.FindEnumTypeByName('shortener.v1.PrincipalKind').values_by_name
    request.caller.kind = guest['PRINCIPAL_KIND_GUEST'].number
    request.target_url = target_url
    try:
        created = link.unary(LINK_SERVICE, 'CreateLink', request)
    except grpc.RpcError as error:
        raise rpc_failure('CreateLink', error) from error
    summary['createLink'] = {
        'created': created.created,
        'id': int64(created.link.id),
        'code': created.link.code,
        'targetUrl': created.link.target_url,
        'ownerId': int64(created.link.owner_id),
        'createdAt': to_json(created.link).get('created_at', ''),
    }
    check(
        re.fullmatch(r'[0-9A-Za-z]{7}', created.link.code),
        f'CreateLink answered code {created.link.code!r}, not 7 characters',
    )
    check(created.link.target_url == target_url, f'CreateLink answered {to_json(created)}')
    check(created.link.owner_id == issued.guest.id, 'CreateLink answered another owner')

    request = link.new('shortener.v1.ResolveLinkRequest')
    request.code = created.link.code
    try:
        resolved = link.unary(LINK_SERVICE, 'ResolveLink', request)
    except grpc.RpcError as error:
        raise rpc_failure(f'ResolveLink({created.link.code!r})', error) from error
    summary['resolveLink'] = {
        'code': created.link.code,
        'linkId': int64(resolved.link_id),
        'targetUrl': resolved.target_url,
    }
    check(resolved.target_url == target_url, f'ResolveLink answered {to_json(resolved)}')
    check(resolved.link_id == created.link.id, 'ResolveLink answered another link id')

    request = link.new('shortener.v1.ResolveLinkRequest')
    request.code = 'zzzzzzz'
    try:
        unexpected = link.unary(LINK_SERVICE, 'ResolveLink', request)
    except grpc.RpcError as error:
        trailers = {key: value for key, value in (error.trailing_metadata() or ())}
        summary['resolveUnknown'] = {
            'code': 'zzzzzzz',
            'status': error.code().name,
            'details': error.details(),
            'errorCode': trailers.get('error-code', ''),
        }
    else:
        raise Failure(f'ResolveLink of an unknown code answered {to_json(unexpected)}')
    unknown = summary['resolveUnknown']
    check(unknown['status'] == 'NOT_FOUND', f'ResolveLink of an unknown code: {unknown}')
    check(unknown['errorCode'] == 'link_not_found', f'ResolveLink of an unknown code: {unknown}')


def parse_args(argv):
    check(argv, 'usage: grpc_client.py ADDRESS[=Service,...] [ADDRESS[=Service,...] ...]')
    targets = []
    for arg in argv:
        address, _, names = arg.partition('=')
        check(re.fullmatch(r'[^\s=]+:\d+', address), f'not host:port: {arg!r}')
        targets.append((address, [n for n in names.split(',') if n]))
    return targets


def main(argv):
    summary = {'ok': False, 'python': sys.version.split()[0], 'grpcio': grpc.__version__}
    targets = []
    errors = []
    try:
        with tempfile.TemporaryDirectory(prefix='grpc-reflection-') as out:
            reflection, health = compile_protos(out)
            for address, expected in parse_args(argv):
                targets.append(Target(address, expected, reflection, health))
            summary['targets'] = [t.summary for t in targets]
            for target in targets:
                try:
                    errors.extend(f'{target.address}: {e}' for e in target.explore())
                except Failure as failure:
                    errors.append(f'{target.address}: {failure}')
            serving = {
                name: t
                for t in targets
                for name in (IDENTITY_SERVICE, LINK_SERVICE)
                if t.serves(name)
            }
            if IDENTITY_SERVICE in serving and LINK_SERVICE in serving:
                summary['calls'] = {}
                calls(serving[IDENTITY_SERVICE], serving[LINK_SERVICE], summary['calls'])
    except Failure as failure:
        errors.append(str(failure))
    except Exception as error:  # noqa: BLE001 - a bug here must still end in a summary
        errors.append(f'unexpected {type(error).__name__}: {error}')
        traceback.print_exc()
    finally:
        for target in targets:
            target.close()
    summary['ok'] = not errors
    if errors:
        summary['error'] = '\n'.join(errors)
    print(json.dumps(summary, indent=2))
    if errors:
        print(f'grpc_client.py: FAILED:\n{summary["error"]}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
