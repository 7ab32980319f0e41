// Argo Rollouts' setHeaderRoute and setMirrorRoute steps (docs/steps.md): named routes to the
// canary added during a run, kept in status.stepRoutes and removed when the run ends.
import { Type } from '@sinclair/typebox';
import { MapOf, Obj } from './schema-kit.ts';

const RouteName = Type.String({
  minLength: 1,
  maxLength: 63,
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
  description: 'Names the route: a later step with this name replaces or (without match) removes it.',
});

const HeaderName = Type.String({ minLength: 1, maxLength: 256, pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" });

/** Argo's StringMatch: exact, prefix or regex (no suffix, unlike analysis.match). */
const RouteStringMatch = Obj(
  {
    exact: Type.Optional(Type.String({ maxLength: 1024 })),
    prefix: Type.Optional(Type.String({ maxLength: 1024 })),
    regex: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  {
    rules: [
      {
        rule: '[has(self.exact), has(self.prefix), has(self.regex)].filter(x, x).size() == 1',
        message: 'a route match sets exactly one of exact, prefix or regex',
      },
    ],
  },
);

const HeaderRouteMatch = Obj({ headerName: HeaderName, headerValue: RouteStringMatch });

export const HeaderRoute = Obj({
  name: RouteName,
  match: Type.Optional(
    Type.Array(HeaderRouteMatch, {
      minItems: 1,
      maxItems: 16,
      description:
        'Requests matching every one of these headers go to the canary. Without match: removes the route.',
    }),
  ),
});

const MirrorRouteMatch = Obj(
  {
    method: Type.Optional(RouteStringMatch),
    path: Type.Optional(RouteStringMatch),
    headers: Type.Optional(MapOf(RouteStringMatch, 16)),
  },
  {
    rules: [
      {
        rule: 'has(self.method) || has(self.path) || has(self.headers)',
        message: 'a setMirrorRoute match sets at least one of method, path or headers',
      },
    ],
  },
);

export const MirrorRoute = Obj(
  {
    name: RouteName,
    percentage: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        description: 'Percent of the matching requests copied; 100 if unset.',
      }),
    ),
    match: Type.Optional(
      Type.Array(MirrorRouteMatch, {
        minItems: 1,
        maxItems: 16,
        description:
          'Requests matching any of these (all parts of one) are copied to the canary. Without match: removes the route.',
      }),
    ),
  },
  {
    rules: [
      {
        rule: '!has(self.percentage) || has(self.match)',
        message: 'setMirrorRoute without match removes the route: percentage needs match',
        fieldPath: '.percentage',
      },
    ],
  },
);

// status.stepRoutes: what the controller wrote from validated steps, so without the CEL rules
// (the API server would count their cost once more for every route kept).
const StatusMatch = Obj({
  exact: Type.Optional(Type.String()),
  prefix: Type.Optional(Type.String()),
  regex: Type.Optional(Type.String()),
});

/** A route in force, as status.stepRoutes keeps it (the vocabulary's StepRoute). */
export const StepRouteStatus = Obj({
  name: Type.String(),
  headers: Type.Optional(
    Type.Array(Obj({ headerName: Type.String(), headerValue: StatusMatch }), { maxItems: 16 }),
  ),
  mirror: Type.Optional(
    Obj({
      percentage: Type.Integer(),
      match: Type.Array(
        Obj({
          method: Type.Optional(StatusMatch),
          path: Type.Optional(StatusMatch),
          headers: Type.Optional(MapOf(StatusMatch, 16)),
        }),
        { maxItems: 16 },
      ),
    }),
  ),
});
