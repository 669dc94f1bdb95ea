import Testing

@testable import Storage

/// Attribute texts are remembered both ways; what is remembered must never change the answer.
struct IndexTextTests {
    @Test
    func attributeTextsRoundTripWhileRemembered() throws {
        // More distinct attributes than either memory holds, each encoded and decoded twice.
        let all = (0..<(IndexText.decodedLimit + 40)).map { index in
            ObjectAttributes(
                contentType: index % 3 == 0 ? nil : "image/x-\(index)", cacheControl: index % 5 == 0 ? "no-cache" : nil, contentLanguage: "l\(index)",
                userMetadata: index % 2 == 0 ? [:] : ["n": "\(index)", "z": "é"])
        }
        var texts: [String] = []
        for attributes in all + all {
            let text = try IndexText.encodeAttributes(attributes)
            #expect(try IndexText.decodeAttributes(text) == attributes)
            texts.append(text)
        }
        #expect(Array(texts[..<all.count]) == Array(texts[all.count...]))
        #expect(Set(texts).count == all.count)
        // Sorted keys: equal attributes give the same text however they were built.
        var built = ObjectAttributes()
        built.userMetadata["z"] = "1"
        built.userMetadata["a"] = "2"
        #expect(try IndexText.encodeAttributes(built) == #"{"userMetadata":{"a":"2","z":"1"}}"#)
    }
}
